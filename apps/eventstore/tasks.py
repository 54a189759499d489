"""Celery tasks that keep projections caught up. Thin and safe to run twice."""

from typing import Any

from celery import shared_task
from django.core.cache import cache

from apps.core.db import connection
from apps.core.tenancy import for_each_tenant
from apps.eventstore.projections import catch_up, lag

PENDING_KEY = "projections:pending"  # the cache key function scopes it to the schema
PENDING_SECONDS = 60


@shared_task(acks_late=True)
def run_projections() -> dict[str, int]:
    """Catches every projection of the task's tenant up with the log."""
    cache.delete(PENDING_KEY)
    return {name: result.position for name, result in catch_up().items()}


def request_projection_run() -> None:
    """Asks for one run for this tenant; requests made while one is pending coalesce."""
    if cache.add(PENDING_KEY, 1, timeout=PENDING_SECONDS):
        run_projections.delay()


@shared_task
def sweep_projections() -> dict[str, Any]:
    """Beat's safety net: any tenant whose projections trail the log gets a run."""

    def sweep(tenant: Any) -> bool:
        behind = any(state["lag"] > 0 and state["status"] == "running" for state in lag().values())
        if behind:  # a lost message's pending flag expires, so this re-requests in time
            request_projection_run()
        return behind

    swept = for_each_tenant(sweep)
    connection.set_schema_to_public()
    return {"tenants_behind": sum(swept.values())}
