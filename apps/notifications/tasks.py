"""Celery tasks of notifications. Thin and safe to run twice (the dispatcher claims rows)."""

from typing import Any

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from apps.core.db import connection
from apps.core.tenancy import for_each_tenant
from apps.notifications.dispatch import dispatch_due, has_work

PENDING_KEY = "notifications:dispatch-pending"  # the cache key function scopes it per schema
PENDING_SECONDS = 10


@shared_task(acks_late=True)
def dispatch_tenant() -> dict[str, int]:
    """Sends the task's tenant's due messages (tenant-schemas-celery sets the schema)."""
    cache.delete(PENDING_KEY)
    result = dispatch_due()
    return {"sent": result.sent, "retried": result.retried, "dead": result.dead}


def request_dispatch() -> None:
    """Asks for a dispatch run for this tenant soon; requests while one is pending coalesce."""
    if cache.add(PENDING_KEY, 1, timeout=PENDING_SECONDS):
        dispatch_tenant.delay()


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
