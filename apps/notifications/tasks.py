"""Celery tasks of notifications. Thin and safe to run twice (the dispatcher claims rows)."""

from celery import Task, shared_task
from django.utils import timezone

from apps.core.pending import PendingRun
from apps.core.tenancy import (
    TENANT_TASK_OPTIONS,
    fan_out,
    first_fire,
    run_tenant_job,
    tenants_with_work,
)
from apps.notifications.dispatch import dispatch_due, next_due

PENDING_KEY = "notifications:dispatch-pending"  # the cache key function scopes it per schema
PENDING_SECONDS = 10
PENDING = PendingRun(PENDING_KEY, PENDING_SECONDS, "dispatch")


@shared_task(**TENANT_TASK_OPTIONS)
def dispatch_tenant(self: Task) -> dict[str, int] | None:
    """Sends the task's tenant's due messages (tenant-schemas-celery sets the schema)."""
    PENDING.release()

    def dispatch() -> dict[str, int]:
        result = dispatch_due()
        return {"sent": result.sent, "retried": result.retried, "dead": result.dead}

    return run_tenant_job(self, "dispatch-notifications", dispatch, next_due=next_due)


def request_dispatch() -> None:
    """Asks for a dispatch run for this tenant soon; requests while one is pending coalesce.

    Never raises: what is due stays due, and beat's minute fan-out sends it."""
    PENDING.request(dispatch_tenant)


@shared_task
def dispatch_all_tenants() -> list[str]:
    """Beat, every minute (public schema): a dispatch task for each tenant with a message, a
    retry or a stuck row due."""
    if not first_fire("dispatch-notifications"):
        return []
    return fan_out(dispatch_tenant, tenants_with_work("dispatch-notifications", timezone.now()))
