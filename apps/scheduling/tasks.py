"""Beat tasks of scheduling. Thin and safe to run twice."""

from datetime import datetime

from celery import Task, shared_task
from django.db.models import Min
from django.utils import timezone

from apps.core.tenancy import (
    TENANT_TASK_OPTIONS,
    fan_out,
    first_fire,
    run_tenant_job,
    tenants_with_work,
)
from apps.scheduling.models import SlotHold
from apps.scheduling.waitlist import slot_holds_expire


@shared_task
def expire_slot_holds() -> list[str]:
    """Every minute (public schema): a task for each tenant with a hold past its expiry."""
    if not first_fire("expire-slot-holds"):
        return []
    return fan_out(expire_tenant_holds, tenants_with_work("expire-slot-holds", timezone.now()))


def next_hold_expiry() -> datetime | None:
    live = SlotHold.objects.filter(status=SlotHold.Status.LIVE)
    at: datetime | None = live.aggregate(at=Min("expires_at"))["at"]
    return at


@shared_task(**TENANT_TASK_OPTIONS)
def expire_tenant_holds(self: Task) -> int | None:
    """The task's tenant: expired holds pass to the next patient waiting."""
    return run_tenant_job(
        self, "expire-slot-holds", lambda: slot_holds_expire(), next_due=next_hold_expiry
    )
