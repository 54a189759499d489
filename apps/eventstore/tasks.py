"""Celery tasks that keep projections caught up. Thin and safe to run twice."""

from celery import Task, shared_task
from django.core.cache import cache
from django.utils import timezone

from apps.core.tenancy import (
    TENANT_TASK_OPTIONS,
    fan_out,
    run_tenant_job,
    tenants_with_work,
)
from apps.eventstore.projections import catch_up, lag, when_left_behind

PENDING_KEY = "projections:pending"  # the cache key function scopes it to the schema
PENDING_SECONDS = 60


@shared_task(acks_late=True)
def run_projections() -> dict[str, int]:
    """Catches every projection of the task's tenant up with the log."""
    cache.delete(PENDING_KEY)
    return {name: result.position for name, result in catch_up().items()}


@when_left_behind
def request_projection_run() -> None:
    """Asks for one run for this tenant; requests made while one is pending coalesce."""
    if cache.add(PENDING_KEY, 1, timeout=PENDING_SECONDS):
        run_projections.delay()


@shared_task
def sweep_projections() -> list[str]:
    """Beat's safety net (public schema): a sweep task for each tenant whose log grew since
    its projections were last seen caught up. Unlike the other periodic jobs it may fire more
    than once a period (a starting worker asks for it too): each fire costs one query and a
    cheap, idempotent check per tenant with new events."""
    return fan_out(sweep_tenant, tenants_with_work("sweep-projections", timezone.now()))


@shared_task(**TENANT_TASK_OPTIONS)
def sweep_tenant(self: Task) -> bool:
    """The task's tenant: a run if a projection trails the log; seen caught up otherwise."""

    def sweep() -> bool:
        behind = any(state["lag"] > 0 and state["status"] == "running" for state in lag().values())
        if behind:  # a lost message's pending flag expires, so this re-requests in time
            request_projection_run()
        return not behind

    return run_tenant_job(self, "sweep-projections", sweep, covered=bool) is True
