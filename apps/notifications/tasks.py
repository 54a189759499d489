"""Celery tasks of notifications. Thin and safe to run twice (the dispatcher claims rows)."""

import logging

from celery import Task, shared_task
from django.core.cache import cache
from django.utils import timezone

from apps.core.counters import UNREACHABLE
from apps.core.tenancy import (
    TENANT_TASK_OPTIONS,
    fan_out,
    first_fire,
    run_tenant_job,
    tenants_with_work,
)
from apps.notifications.dispatch import dispatch_due, next_due

logger = logging.getLogger(__name__)

PENDING_KEY = "notifications:dispatch-pending"  # the cache key function scopes it per schema
PENDING_SECONDS = 10


def _release_pending() -> None:
    try:
        cache.delete(PENDING_KEY)
    except UNREACHABLE as exc:  # it expires by itself; the dispatch must go on
        logger.warning("dispatch pending flag not released: %s", type(exc).__name__)


@shared_task(**TENANT_TASK_OPTIONS)
def dispatch_tenant(self: Task) -> dict[str, int] | None:
    """Sends the task's tenant's due messages (tenant-schemas-celery sets the schema)."""
    _release_pending()

    def dispatch() -> dict[str, int]:
        result = dispatch_due()
        return {"sent": result.sent, "retried": result.retried, "dead": result.dead}

    return run_tenant_job(self, "dispatch-notifications", dispatch, next_due=next_due)


def request_dispatch() -> None:
    """Asks for a dispatch run for this tenant soon; requests while one is pending coalesce.

    Never raises: what is due stays due, and beat's minute fan-out sends it."""
    try:
        if not cache.add(PENDING_KEY, 1, timeout=PENDING_SECONDS):
            return
    except UNREACHABLE as exc:
        logger.warning("dispatch not requested: %s", type(exc).__name__)
        return
    try:
        dispatch_tenant.delay()
    except Exception as exc:  # noqa: BLE001  (broker down or refusing: beat catches up)
        logger.warning("dispatch not requested: %s", type(exc).__name__)
        _release_pending()


@shared_task
def dispatch_all_tenants() -> list[str]:
    """Beat, every minute (public schema): a dispatch task for each tenant with a message, a
    retry or a stuck row due."""
    if not first_fire("dispatch-notifications"):
        return []
    return fan_out(dispatch_tenant, tenants_with_work("dispatch-notifications", timezone.now()))
