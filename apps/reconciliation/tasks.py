"""Nightly reconciliation: each tenant's previous two days, just after its local midnight."""

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from celery import shared_task
from django.utils import timezone

from apps.core.tenancy import for_each_tenant
from apps.reconciliation.compute import close_days

NIGHTLY_HOUR = 0  # the job runs hourly and acts for tenants where it is now 00:xx


def reconcile_recent(now: datetime | None = None) -> int:
    """Recomputes yesterday and the day before (late events and declarations land there)."""
    today = (now or timezone.now()).date()
    return len(close_days(today - timedelta(days=2), today - timedelta(days=1)))


@shared_task
def nightly_reconciliation() -> dict[str, Any]:
    now = timezone.now()

    def run(tenant: Any) -> int:
        local = now.astimezone(ZoneInfo(tenant.timezone))
        return reconcile_recent(local) if local.hour == NIGHTLY_HOUR else 0

    return for_each_tenant(run)


@shared_task
def export_warehouse() -> dict[str, Any]:
    """Every few minutes: each tenant's new facts go to the warehouse."""
    from apps.reconciliation.export import export

    return for_each_tenant(lambda tenant: export())
