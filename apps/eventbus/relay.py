"""The event-bus relay: publishes every committed event of every tenant, in position order per
tenant, and moves the tenant's relay position only past what the bus acknowledged.

- *Which tenants have events to publish* comes from `tenants.TenantWork` in one query: the
  `events` row is the tenant's log head (kept by a trigger inside each appending transaction),
  the `event-bus` row is where the relay stands. No schema is visited unless it has work.
- *When to look*: each appending transaction sends `NOTIFY mymedic_events_appended` at its
  commit (migration `eventbus.0001`) when its connection has `mymedic.notify_relay` on
  (`eventbus.0004`), which the settings give every connection where `MYMEDIC_EVENT_BUS` is set;
  the relay LISTENs, and also looks every few seconds in case it missed one (it was
  reconnecting, or a writer was not configured for the bus).
- *Never skipping*: appends take the tenant's append lock until they commit, so positions
  commit in order (`apps.eventstore.locks`, ADR 0003): once the relay has read position N,
  nothing below N can still appear, and reading `position > relayed` misses nothing.
- *At least once, seen once*: a batch the bus did not acknowledge is published again from
  the first unacknowledged event, with the same message ids (`{slug}:{position}`), which
  JetStream's de-duplication window drops (Kafka consumers drop them by id).
"""

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import psycopg
from django.db import DatabaseError, connections
from django.utils import timezone
from django_tenants.utils import schema_context
from psycopg import sql

from apps.core.db import connection
from apps.eventbus.messages import AFTER_SQL, SELECT_SQL, Message, messages, tenant_json
from apps.eventbus.publishers import BusUnavailable, Publisher
from apps.eventstore.models import Event

logger = logging.getLogger("mymedic.eventbus")

JOB = "event-bus"  # the relay's row in tenants.TenantWork
APPENDED_CHANNEL = "mymedic_events_appended"
# Appends NOTIFY only on connections with this setting on (migration `eventbus.0004`); the
# settings put it on every connection of a process that has MYMEDIC_EVENT_BUS.
NOTIFY_SETTING = "mymedic.notify_relay"
BATCH = 2000  # events per publish
ROUNDS = 5  # batches of a tenant per pass (then the next tenant: no tenant hogs the relay)
LOOK_EVERY = 5.0  # seconds between looks when no notification came
BACKOFF = (0.25, 5.0)  # first and longest wait after the bus or the database failed

# Tenants whose log head is past the relay's position, with what the relay needs to publish.
PENDING = """
SELECT tenant.schema_name, tenant.slug, tenant.region, coalesce(done.position, 0), head.position
FROM tenants_tenantwork AS head
JOIN tenants_tenant AS tenant ON tenant.id = head.tenant_id
LEFT JOIN tenants_tenantwork AS done ON done.tenant_id = head.tenant_id AND done.job = %(job)s
WHERE head.job = 'events' AND head.position > coalesce(done.position, 0)
ORDER BY tenant.schema_name
"""

# Every tenant with a log, for the lag gauges.
POSITIONS = """
SELECT tenant.schema_name, tenant.slug, coalesce(done.position, 0), head.position
FROM tenants_tenantwork AS head
JOIN tenants_tenant AS tenant ON tenant.id = head.tenant_id
LEFT JOIN tenants_tenantwork AS done ON done.tenant_id = head.tenant_id AND done.job = %(job)s
WHERE head.job = 'events'
ORDER BY tenant.slug
"""

ADVANCE = """
INSERT INTO tenants_tenantwork (tenant_id, job, position)
SELECT id, %(job)s, %(position)s FROM tenants_tenant WHERE schema_name = %(schema)s
ON CONFLICT (tenant_id, job) DO UPDATE
    SET position = GREATEST(tenants_tenantwork.position, EXCLUDED.position)
"""


@contextmanager
def notifying_relay() -> Iterator[None]:
    """This thread's connection wakes a relay with its appends, as if MYMEDIC_EVENT_BUS were
    set, for a process that starts a relay of its own (a bench, a test) without the setting."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', false)", [NOTIFY_SETTING])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, '', false)", [NOTIFY_SETTING])


@dataclass(frozen=True)
class Pending:
    schema: str
    slug: str
    region: str
    relayed: int
    head: int


def pending() -> list[Pending]:
    with schema_context("public"), connection.cursor() as cursor:
        cursor.execute(PENDING, {"job": JOB})
        return [Pending(*row) for row in cursor.fetchall()]


def relayed_position(schema: str) -> int:
    """Where the relay stands for a tenant (0 before its first event was published)."""
    with schema_context("public"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT done.position FROM tenants_tenantwork AS done JOIN tenants_tenant AS tenant"
            " ON tenant.id = done.tenant_id WHERE tenant.schema_name = %s AND done.job = %s",
            [schema, JOB],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def advance(schema: str, position: int) -> None:
    """Records that the bus acknowledged the tenant's events up to `position` (never back)."""
    with schema_context("public"), connection.cursor() as cursor:
        cursor.execute(ADVANCE, {"job": JOB, "position": position, "schema": schema})


REWIND = """
UPDATE tenants_tenantwork SET position = %(position)s
WHERE job = %(job)s AND tenant_id = (SELECT id FROM tenants_tenant WHERE slug = %(slug)s)
"""


def rewind(slug: str, position: int) -> int:
    """Moves a tenant's relay position back, so the relay publishes its events after
    `position` again (an operator's replay, e.g. for a consumer that lost its data). Messages
    keep their ids: inside the de-duplication window JetStream drops them, later consumers see
    them again and skip what they applied. Returns the rows changed (0: nothing relayed yet)."""
    with schema_context("public"), connection.cursor() as cursor:
        cursor.execute(REWIND, {"job": JOB, "position": position, "slug": slug})
        return int(cursor.rowcount)


def messages_after(tenant: Pending, limit: int, after: int | None = None) -> list[Message]:
    """Up to `limit` of the tenant's events past `after` (its relay position by default), as
    messages: PostgreSQL writes the payloads (apps/eventbus/messages.py)."""
    query = sql.Composed(
        [sql.SQL(SELECT_SQL), sql.Identifier(tenant.schema, "eventstore_event"), sql.SQL(AFTER_SQL)]
    )
    params = {
        "tenant": tenant_json(tenant.slug),
        "after": tenant.relayed if after is None else after,
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    return messages(region=tenant.region, slug=tenant.slug, rows=rows)


class _InFlight:
    """A tenant's batch the bus is acknowledging; `finish` waits for it and records how far
    the bus acknowledged (all of it, or the leading part before a failure, then raises)."""

    def __init__(self, publisher: Publisher, schema: str, batch: list[Message]) -> None:
        self.schema, self.batch = schema, batch
        self.wait = publisher.begin(batch)

    def finish(self) -> int:
        try:
            self.wait()
        except BusUnavailable as failure:
            if failure.acked:
                advance(self.schema, self.batch[failure.acked - 1].position)
            raise
        advance(self.schema, self.batch[-1].position)
        return len(self.batch)


def relay_pending(publisher: Publisher, batch: int = BATCH, rounds: int = ROUNDS) -> int:
    """One pass: up to `rounds` batches of each tenant with unpublished events, then the next
    tenant. Returns what was published.

    One batch is on the bus at a time (so the order holds across batches as within one);
    the next batch is read from PostgreSQL while the bus acknowledges the one before."""
    published = 0
    flying: _InFlight | None = None
    try:
        for tenant in pending():
            after = tenant.relayed
            for _ in range(rounds):
                batch_messages = messages_after(tenant, batch, after)
                if flying is not None:
                    done, flying = flying, None
                    published += done.finish()
                if not batch_messages:
                    break
                flying = _InFlight(publisher, tenant.schema, batch_messages)
                after = batch_messages[-1].position
                if len(batch_messages) < batch:
                    break
        if flying is not None:
            done, flying = flying, None
            published += done.finish()
    finally:
        if flying is not None:  # reading failed meanwhile: no later batch goes out over this one
            with suppress(Exception):
                flying.finish()
    return published


@dataclass(frozen=True)
class TenantLag:
    slug: str
    events: int
    seconds: float


def lag() -> list[TenantLag]:
    """Per tenant: committed events the bus has not acknowledged, and the age of the oldest."""
    with schema_context("public"), connection.cursor() as cursor:
        cursor.execute(POSITIONS, {"job": JOB})
        rows = cursor.fetchall()
    now = timezone.now()
    result = []
    for schema, slug, relayed, head in rows:
        seconds = 0.0
        if head > relayed:
            with schema_context(schema):
                oldest = (
                    Event.objects.filter(position__gt=relayed)
                    .order_by("position")
                    .values_list("occurred_at", flat=True)
                    .first()
                )
            seconds = max((now - oldest).total_seconds(), 0.0) if oldest else 0.0
        result.append(TenantLag(slug=slug, events=max(head - relayed, 0), seconds=seconds))
    return result


def _idle(wakeups: "Wakeups", stop: threading.Event, seconds: float) -> None:
    """Until an append is notified, `seconds` pass or the relay is asked to stop."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
        if wakeups.wait(min(left, 1.0)):
            return


class Wakeups:
    """LISTENs for appends on a connection of its own; reconnects when that breaks."""

    def __init__(self) -> None:
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def _listening(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            params = connections["default"].get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            self._conn = psycopg.connect(**params, autocommit=True)
            self._conn.execute(f"LISTEN {APPENDED_CHANNEL}")
        return self._conn

    def wait(self, seconds: float) -> bool:
        """Waits up to `seconds` for an append; True if one was notified."""
        try:
            conn = self._listening()
            woken = False
            for _ in conn.notifies(timeout=seconds, stop_after=1):
                woken = True
            return woken
        except psycopg.Error:
            self.close()
            time.sleep(min(seconds, BACKOFF[0]))
            return False

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def run(
    publisher: Publisher,
    *,
    stop: threading.Event | None = None,
    batch: int = BATCH,
    look_every: float = LOOK_EVERY,
) -> None:
    """The relay process's loop, until `stop` is set. The bus or the database being away is
    logged and waited out (0.25 s doubling to 5 s); nothing is skipped meanwhile."""
    stop = stop or threading.Event()
    wakeups = Wakeups()
    wakeups.wait(0)  # listen before the first pass, so no append between them goes unnoticed
    delay = BACKOFF[0]
    try:
        while not stop.is_set():
            try:
                published = relay_pending(publisher, batch)
            except BusUnavailable as failure:
                logger.warning("event bus unavailable (%s); retrying in %.2f s", failure, delay)
                stop.wait(delay)
                delay = min(delay * 2, BACKOFF[1])
                continue
            except DatabaseError as failure:
                logger.warning(
                    "event relay: database error %s; retrying in %.2f s",
                    type(failure).__name__,
                    delay,
                )
                connection.close()
                stop.wait(delay)
                delay = min(delay * 2, BACKOFF[1])
                continue
            delay = BACKOFF[0]
            if not published:
                _idle(wakeups, stop, look_every)
    finally:
        wakeups.close()


def relay_lag_lines() -> list[str]:
    """The relay's lag for `/metrics` (Prometheus text): per tenant, the largest and the sum."""
    tenants = lag()
    lines = [
        "# HELP mymedic_relay_lag_events Committed events the event bus has not acknowledged.",
        "# TYPE mymedic_relay_lag_events gauge",
        *(f'mymedic_relay_lag_events{{tenant="{t.slug}"}} {t.events}' for t in tenants),
        "# HELP mymedic_relay_lag_seconds Age of the oldest event not yet on the event bus.",
        "# TYPE mymedic_relay_lag_seconds gauge",
        *(f'mymedic_relay_lag_seconds{{tenant="{t.slug}"}} {t.seconds:.3f}' for t in tenants),
        "# HELP mymedic_relay_lag_events_max The largest relay lag of any tenant, in events.",
        "# TYPE mymedic_relay_lag_events_max gauge",
        f"mymedic_relay_lag_events_max {max((t.events for t in tenants), default=0)}",
        "# HELP mymedic_relay_lag_events_total Events not yet on the bus, all tenants together.",
        "# TYPE mymedic_relay_lag_events_total gauge",
        f"mymedic_relay_lag_events_total {sum(t.events for t in tenants)}",
        "# HELP mymedic_relay_lag_seconds_max The oldest event not yet on the bus, any tenant.",
        "# TYPE mymedic_relay_lag_seconds_max gauge",
        f"mymedic_relay_lag_seconds_max {max((t.seconds for t in tenants), default=0.0):.3f}",
    ]
    return lines
