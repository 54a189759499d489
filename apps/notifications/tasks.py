"""Celery tasks of notifications. Thin and safe to run twice (the dispatcher claims rows)."""

import logging
from typing import Any

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from apps.core.counters import UNREACHABLE
from apps.core.db import connection
from apps.core.tenancy import for_each_tenant
from apps.notifications.dispatch import dispatch_due, has_work

logger = logging.getLogger(__name__)

PENDING_KEY = "notifications:dispatch-pending"  # the cache key function scopes it per schema
PENDING_SECONDS = 10


def _release_pending() -> None:
    try:
        cache.delete(PENDING_KEY)
    except UNREACHABLE as exc:  # it expires by itself; the dispatch must go on
        logger.warning("dispatch pending flag not released: %s", type(exc).__name__)


@shared_task(acks_late=True)
def dispatch_tenant() -> dict[str, int]:
    """Sends the task's tenant's due messages (tenant-schemas-celery sets the schema)."""
    _release_pending()
    result = dispatch_due()
    return {"sent": result.sent, "retried": result.retried, "dead": result.dead}


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
def dispatch_all_tenants() -> dict[str, bool]:
    """Beat (in the public schema): one dispatch task per tenant that has work due."""
    now = timezone.now()

    def fan_out(tenant: Any) -> bool:
        due = has_work(now)
        if due:
            dispatch_tenant.delay()  # sent inside the tenant's schema: it runs there
        return due

    fanned = for_each_tenant(fan_out)
    connection.set_schema_to_public()
    return fanned
