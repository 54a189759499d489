"""Work done once per tenant schema, each tenant behind its own error boundary.

Two ways in:

- `for_each_tenant` (management commands, upkeep): runs a function in every schema in turn; a
  tenant that raises is logged and skipped, the others still run, and `TenantsFailed` (a
  `CommandError`, so a command exits non-zero) names the failed tenants at the end.
- Periodic jobs (beat): a job's beat task runs in the public schema, finds the tenants that
  have work from one table (`tenants.TenantWork`) and sends one task per tenant carrying the
  tenant's schema (`fan_out`). Each tenant's task runs its work through `run_tenant_job`:
  its own error boundary, its queue's time limits, retries with backoff, and a note of what
  it covered and when it is next due.

A tenant has work for a job when the log it watches (`events` or `audit`) grew past what the
job last covered, or when something it must act on falls due (a message, a hold's expiry, a
key's purge). Triggers in each tenant schema keep the log heads; commands note due times. So
beat's cost grows with the tenants that have work, not with the tenants there are.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from datetime import datetime
from typing import Any, TypeVar

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from django.conf import settings
from django.core.cache import cache
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone
from django_redis import get_redis_connection
from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

from apps.core.db import connection
from apps.core.pending import forget_in_every_schema

T = TypeVar("T")
logger = logging.getLogger("mymedic.tenancy")

# Retries of a tenant's task after an error: 3, with 10 s, 40 s, 160 s between them (for the
# default MYMEDIC_TENANT_RETRY_SECONDS). After that the work waits for the job's next beat
# period, which finds it again.
MAX_RETRIES = 3
# A tenant's task that finds another of the tenant's tasks running on its worker comes back
# after this long (the cache key function scopes the key to the tenant's schema).
RUNNING_KEY = "tenancy:running"
BUSY_SECONDS = 2

# Options of every per-tenant task: safe to run twice, so acknowledged only when done (a
# worker that dies hands it back); time limits come from the task's queue (settings).
TENANT_TASK_OPTIONS: dict[str, Any] = {"bind": True, "acks_late": True, "max_retries": None}


# Spare schemas of the sign-up pool (`apps.tenants.spares`) are named with this prefix and
# 12 lowercase hex digits. They are not tenants: no keys, no periodic work, until claimed.
SPARE_SCHEMA_PREFIX = "spare_"


def is_spare_schema(schema: str) -> bool:
    return schema.startswith(SPARE_SCHEMA_PREFIX)


class TenantsFailed(CommandError):
    """Some tenants' work failed; every other tenant's ran."""

    def __init__(self, failed: dict[str, str], results: dict[str, Any]) -> None:
        self.failed = failed
        self.results = results
        named = ", ".join(f"{schema} ({error})" for schema, error in sorted(failed.items()))
        super().__init__(f"{len(failed)} tenant(s) failed: {named}")


def tenant_schemas(slugs: list[str] | None = None) -> Iterator[Any]:
    tenants = get_tenant_model().objects.exclude(schema_name=get_public_schema_name())
    if slugs:
        tenants = tenants.filter(slug__in=slugs)
    yield from tenants.order_by("schema_name").iterator()


def for_each_tenant(work: Callable[[Any], T], slugs: list[str] | None = None) -> dict[str, T]:
    """Runs `work(tenant)` inside each tenant's schema; returns the results by schema.

    A tenant whose work raises is logged and the loop goes on; `TenantsFailed` follows once
    every tenant had its turn (it carries the results of the others).
    """
    results: dict[str, T] = {}
    failed: dict[str, str] = {}
    for tenant in tenant_schemas(slugs):
        # Inside a transaction a savepoint keeps one tenant's database error from breaking
        # the transaction for the tenants after it.
        boundary = transaction.atomic() if connection.in_atomic_block else nullcontext()
        try:
            with boundary, schema_context(tenant.schema_name):
                results[tenant.schema_name] = work(tenant)
        except Exception as error:  # noqa: BLE001 - the tenant's error boundary
            failed[tenant.schema_name] = type(error).__name__
            # Identifiers only: an exception's text may quote a row.
            logger.error(
                "tenant work failed schema=%s error=%s", tenant.schema_name, type(error).__name__
            )
    if failed:
        raise TenantsFailed(failed, results)
    return results


# The log each periodic job watches (`None`: only due times bring it back).
WATCHES: dict[str, str | None] = {
    "sweep-projections": "events",
    "warehouse-export": "events",
    "publish-audit-anchors": "audit",
    "dispatch-notifications": None,
    "expire-slot-holds": None,
    "purge-idempotency-records": None,
    "retry-hl7-messages": None,
    "send-hl7-outbound": None,
    # Partitions ahead for tenants whose log grew; archives when a month passes retention.
    "make-log-partitions": "events",
    "archive-log-partitions": None,
    # Chosen by the tenants' clocks, among those whose log grew since their last close: a
    # close of days without new events would write what is there already.
    "nightly-reconciliation": "events",
    # Storage bytes (apps.lifecycle): measured again only once the tenant's log has grown.
    "measure-storage": "events",
}

TENANTS_WITH_WORK = """
SELECT tenant.schema_name
FROM tenants_tenant AS tenant
LEFT JOIN tenants_tenantwork AS head ON head.tenant_id = tenant.id AND head.job = %(watches)s
LEFT JOIN tenants_tenantwork AS done ON done.tenant_id = tenant.id AND done.job = %(job)s
WHERE tenant.schema_name <> %(public)s
  AND tenant.moving_at IS NULL
  AND (head.position > coalesce(done.position, 0) OR done.due_at <= %(now)s)
ORDER BY tenant.schema_name
"""

# Takes the job's row (making it if need be) so that no due time is noted while the run
# computes the next one; one noted after that waits for this transaction and then applies.
TAKE_ROW = """
INSERT INTO tenants_tenantwork (tenant_id, job, position)
SELECT id, %(job)s, 0 FROM tenants_tenant WHERE schema_name = %(schema)s
ON CONFLICT (tenant_id, job) DO UPDATE SET job = EXCLUDED.job
"""

NOTE_DONE = """
UPDATE tenants_tenantwork SET position = %(position)s, due_at = %(due_at)s
WHERE job = %(job)s AND tenant_id = (SELECT id FROM tenants_tenant WHERE schema_name = %(schema)s)
"""

# Writes only when the new time is earlier, so most calls change nothing.
NOTE_DUE = """
INSERT INTO tenants_tenantwork (tenant_id, job, position, due_at)
SELECT id, %(job)s, 0, %(due_at)s FROM tenants_tenant WHERE schema_name = %(schema)s
ON CONFLICT (tenant_id, job) DO UPDATE SET due_at = EXCLUDED.due_at
WHERE tenants_tenantwork.due_at IS NULL OR tenants_tenantwork.due_at > EXCLUDED.due_at
"""

HEAD = """
SELECT head.position FROM tenants_tenantwork AS head
JOIN tenants_tenant AS tenant ON tenant.id = head.tenant_id
WHERE tenant.schema_name = %(schema)s AND head.job = %(watches)s
"""


def tenants_with_work(job: str, now: datetime) -> list[str]:
    """Schemas of the tenants that have work for `job` (one indexed query in public)."""
    with connection.cursor() as cursor:
        public = get_public_schema_name()
        params = {"job": job, "watches": WATCHES[job], "now": now, "public": public}
        cursor.execute(TENANTS_WITH_WORK, params)
        return [schema for (schema,) in cursor.fetchall()]


def note_due(job: str, due_at: datetime) -> None:
    """In a tenant's schema: `job` has work for this tenant at `due_at` (or earlier)."""
    with connection.cursor() as cursor:
        cursor.execute(NOTE_DUE, {"job": job, "due_at": due_at, "schema": connection.schema_name})


def _head(job: str) -> int:
    watches = WATCHES[job]
    if watches is None:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(HEAD, {"schema": connection.schema_name, "watches": watches})
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _note_done(job: str, head: int, next_due: Callable[[], datetime | None] | None) -> None:
    params: dict[str, Any] = {"job": job, "schema": connection.schema_name, "position": head}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(TAKE_ROW, params)
        params["due_at"] = next_due() if next_due else None
        cursor.execute(NOTE_DONE, params)


def first_fire(job: str) -> bool:
    """True unless `job` already fired less than 90% of its beat period ago (by the clock of
    whoever fired it): a second beat, or one restarted with a lost schedule file, sends
    nothing twice. The check and the note are one step under a Redis lock."""
    period = float(settings.CELERY_BEAT_SCHEDULE[job]["schedule"])  # type: ignore[arg-type]
    now = timezone.now().timestamp()
    redis = get_redis_connection("default")
    key = f"mymedic:beat:{job}"
    with redis.lock(f"{key}:lock", timeout=10, blocking_timeout=10):
        last = redis.get(key)
        if last is not None and 0 <= now - float(last) < 0.9 * period:
            logger.info("periodic job already fired this period job=%s", job)
            return False
        redis.set(key, now, ex=int(2 * period) + 1)
    return True


def fan_out(task: Task, schemas: Iterable[str], *args: Any) -> list[str]:
    """Sends `task(*args)` once per schema, each to run in that schema."""
    sent = []
    for schema in schemas:
        task.apply_async(args=args, headers={"_schema_name": schema})
        sent.append(schema)
    return sent


def run_tenant_job(
    task: Task,
    job: str,
    work: Callable[[], T],
    *,
    covered: Callable[[T], bool] = lambda result: True,
    next_due: Callable[[], datetime | None] | None = None,
) -> T | None:
    """The body of a tenant's task: runs `work` in the task's schema behind an error boundary.

    When `covered(result)`, the head of the log the job watches, as it was when the run
    began, is noted as covered, with `next_due()`; otherwise the tenant is looked at again
    next period. An error is logged and retried with backoff (`MAX_RETRIES`), then left for
    the next beat period, which finds the work again; so is a run past its soft time limit,
    without retries (it would likely hang again). Returns `work`'s result, None on failure.
    """
    schema = connection.schema_name
    if schema == get_public_schema_name():  # the tenant was removed after the task was sent
        logger.warning("tenant job without a tenant job=%s", job)
        return None
    # One worker process per tenant and worker: while one of this tenant's tasks runs (or
    # hangs until its time limit), the others come back later instead of taking the rest of
    # the worker's processes from every other tenant.
    slot = f"{RUNNING_KEY}:{task.request.hostname}"
    hard_limit = int(task.time_limit or settings.CELERY_TASK_TIME_LIMIT)
    if not cache.add(slot, 1, timeout=hard_limit):
        logger.info("tenant job waits for the tenant's running one schema=%s job=%s", schema, job)
        task.apply_async(
            args=task.request.args,
            kwargs=task.request.kwargs,
            countdown=BUSY_SECONDS,
            headers={"_schema_name": schema},
        )
        return None
    try:
        return _run(task, job, work, covered, next_due)
    finally:
        cache.delete(slot)


@worker_ready.connect
def _forget_running_slots(sender: Any = None, **_: Any) -> None:
    """A worker that starts runs nothing yet: a slot under its name was left by one killed
    (or frozen and killed) with a tenant job in hand, and would make every task of that
    tenant wait out the hard time limit. Forget them."""
    hostname = getattr(sender, "hostname", None)
    if not hostname:
        return
    forgotten = forget_in_every_schema(f"{RUNNING_KEY}:{hostname}", "running slots")
    if forgotten:
        logger.warning("forgot %s running slot(s) of a previous %s", forgotten, hostname)


def _run(
    task: Task,
    job: str,
    work: Callable[[], T],
    covered: Callable[[T], bool],
    next_due: Callable[[], datetime | None] | None,
) -> T | None:
    schema = connection.schema_name
    head = _head(job)
    try:
        result = work()
    except SoftTimeLimitExceeded:
        logger.error("tenant job over its time limit schema=%s job=%s", schema, job)
        return None
    except Exception as error:  # noqa: BLE001 - the tenant's error boundary
        attempt = task.request.retries
        logger.error(
            "tenant job failed schema=%s job=%s error=%s attempt=%s",
            schema, job, type(error).__name__, attempt + 1,
        )  # fmt: skip
        if attempt >= MAX_RETRIES:
            return None
        countdown = settings.MYMEDIC_TENANT_RETRY_SECONDS * 4**attempt
        raise task.retry(countdown=countdown) from None
    if covered(result):
        _note_done(job, head, next_due)
    return result
