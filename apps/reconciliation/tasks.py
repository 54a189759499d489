"""Nightly reconciliation and the warehouse export: beat fans out one task per tenant."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from celery import Task, shared_task
from django.utils import timezone

from apps.core.tenancy import (
    TENANT_TASK_OPTIONS,
    fan_out,
    first_fire,
    run_tenant_job,
    tenants_with_work,
)
from apps.reconciliation.compute import close_days
from apps.tenants.models import Tenant

NIGHTLY_HOUR = 0  # the job runs hourly and acts for tenants where it is now 00:xx


def reconcile_recent(now: datetime | None = None) -> int:
    """Recomputes yesterday and the day before (late events and declarations land there)."""
    today = (now or timezone.now()).date()
    return len(close_days(today - timedelta(days=2), today - timedelta(days=1)))


def tenants_at_midnight(now: datetime) -> dict[str, str]:
    """Schema → local date of each tenant where it is now NIGHTLY_HOUR and whose event log
    grew since its last close (one query per zone in use, not per tenant). A tenant without
    new events is left alone: its last close covered everything the days to close hold, so
    closing them again would change nothing, and ten thousand idle tenants cost no task."""
    zones = Tenant.objects.exclude(schema_name="public").values_list("timezone", flat=True)
    at_midnight = {
        zone: now.astimezone(ZoneInfo(zone)).date().isoformat()
        for zone in set(zones)
        if now.astimezone(ZoneInfo(zone)).hour == NIGHTLY_HOUR
    }
    with_work = tenants_with_work("nightly-reconciliation", now)
    tenants = Tenant.objects.filter(timezone__in=at_midnight, schema_name__in=with_work)
    pairs = tenants.order_by("schema_name").values_list("schema_name", "timezone")
    return {schema: at_midnight[zone] for schema, zone in pairs}


@shared_task
def nightly_reconciliation(now: str | None = None) -> list[str]:
    """Beat, hourly (public schema): a close task for each tenant at its local midnight."""
    if not first_fire("nightly-reconciliation"):
        return []
    moment = datetime.fromisoformat(now) if now else timezone.now()
    sent = []
    for schema, today in tenants_at_midnight(moment).items():
        sent += fan_out(close_tenant_days, [schema], today)
    return sent


@shared_task(**TENANT_TASK_OPTIONS)
def close_tenant_days(self: Task, today: str) -> int | None:
    """The task's tenant: recomputes the two days before its local `today`."""
    local_today = date.fromisoformat(today)

    def close() -> int:
        lo, hi = local_today - timedelta(days=2), local_today - timedelta(days=1)
        return len(close_days(lo, hi, from_replica=True))

    return run_tenant_job(self, "nightly-reconciliation", close)


@shared_task
def export_warehouse() -> list[str]:
    """Beat, every few minutes (public schema): an export task for each tenant with new
    events since its last export."""
    if not first_fire("warehouse-export"):
        return []
    return fan_out(export_tenant, tenants_with_work("warehouse-export", timezone.now()))


@shared_task(**TENANT_TASK_OPTIONS)
def export_tenant(self: Task) -> dict[str, int] | None:
    """The task's tenant: its new facts go to the warehouse."""
    from apps.reconciliation.export import export

    return run_tenant_job(self, "warehouse-export", export)
