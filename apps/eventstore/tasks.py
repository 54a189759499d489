"""Celery tasks that keep projections caught up. Thin and safe to run twice."""

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from apps.core.pending import PendingRun, forget_in_every_schema
from apps.core.tenancy import (
    TENANT_TASK_OPTIONS,
    fan_out,
    run_tenant_job,
    tenants_with_work,
)
from apps.eventstore.projections import catch_up, lag, when_left_behind

logger = logging.getLogger(__name__)

PENDING_KEY = "projections:pending"  # the cache key function scopes it to the schema
PENDING_SECONDS = 60
PENDING = PendingRun(PENDING_KEY, PENDING_SECONDS, "projection run")
# A run that loses its database (PostgreSQL restarting) tries again after 0.25 s,
# doubling up to 2 s, for about a minute; past that the sweep asks again.
RETRY_FIRST_SECONDS = 0.25
RETRY_MOST_SECONDS = 2.0
RETRY_TIMES = 40


@shared_task(bind=True, acks_late=True, max_retries=RETRY_TIMES)
def run_projections(self: Task) -> dict[str, int]:
    """Catches every projection of the task's tenant up with the log.

    The pending flag is released before the run, so a change committed during the run asks
    for another; a run that loses its database connection retries with backoff."""
    PENDING.release()
    try:
        return {name: result.position for name, result in catch_up().items()}
    except (OperationalError, InterfaceError) as exc:  # the connection, not the data
        delay = min(RETRY_MOST_SECONDS, RETRY_FIRST_SECONDS * 2**self.request.retries)
        logger.warning("projection run failed (%s); again in %.2f s", type(exc).__name__, delay)
        raise self.retry(exc=exc, countdown=delay) from exc


@when_left_behind
def request_projection_run() -> None:
    """Asks for one run for this tenant; requests made while one is pending coalesce.

    Never raises: when Redis cannot take the request the flag is not left set (it would
    swallow the next requests for a minute) and the sweep catches the tenant up later."""
    PENDING.request(run_projections)


@worker_ready.connect
def _forget_pending_runs(**_: Any) -> None:
    """A starting worker may replace one killed with a run in hand, whose flags would swallow
    every request for PENDING_SECONDS: forget them all, then sweep once."""
    forget_in_every_schema(PENDING_KEY, "pending projection runs")
    try:
        sweep_projections.delay()
    except Exception as exc:  # noqa: BLE001  (broker away: beat's next sweep comes)
        logger.warning("start-up sweep not requested: %s", type(exc).__name__)


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
