"""`make bench ARGS='--only relay'`: the event-bus relay against a nats-server of its own.

- *throughput*: a backlog of events appended in one transaction, published by the relay's own
  passes (`relay_pending`: batches of `relay.BATCH`, `in_flight` acknowledgements outstanding),
  with the CPU seconds per 10,000 events of the relay, nats-server and the PostgreSQL backend;
- *lag*: the relay as its process (`manage.py relay_events`) while bookings commit at a steady
  rate through the commands; each booking is timed from its commit to the moment the stream
  stored its event (the message's JetStream timestamp; one machine, one clock)."""

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
from django.db import transaction
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from apps.bench.measure import summary_ms, timed, wait_for
from apps.bench.procs import cpu_seconds
from apps.core.db import connection
from apps.eventbus import relay
from apps.eventbus.messages import STREAM, SUBJECT_PREFIX
from apps.eventbus.natsserver import NatsServer, nats_server
from apps.eventbus.publishers import NatsPublisher
from apps.eventstore.locks import append_lock
from apps.scheduling.events import APPOINTMENT_BOOKED
from apps.tenants.models import Tenant

BACKLOG = """
INSERT INTO eventstore_event (stream, version, type, schema_version, data, metadata, occurred_at)
SELECT 'appointment-' || g, 1, %(type)s, 1,
       jsonb_build_object('id', g, 'doctor_id', g %% 40, 'patient_id', g, 'branch_id', 1,
                          'date', '2027-01-05', 'status', 'booked',
                          'start', '2027-01-05T09:00:00+05:30', 'end', '2027-01-05T09:15:00+05:30',
                          'follow_up_of', NULL, 'fee', '500.00'),
       jsonb_build_object('actor_id', NULL, 'actor_role', 'system', 'branch_id', 1),
       now()
FROM generate_series(1000000, 1000000 + %(count)s - 1) AS g
"""


def _pending_of(tenant: Tenant) -> relay.Pending | None:
    return next((p for p in relay.pending() if p.schema == tenant.schema_name), None)


def own_cpu_seconds() -> float:
    """CPU seconds of this process, every thread (the relay's and its NATS client's)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def throughput(tenant: Tenant, bus: NatsServer, events: int) -> dict[str, Any]:
    """The relay's passes over a backlog, as the process runs them; with the CPU seconds that
    the relay, nats-server and the PostgreSQL backend spent (load-independent, unlike the
    rate on a shared machine)."""
    publisher = NatsPublisher([bus.url])
    try:
        while relay.relay_pending(publisher):  # what the tenant made at sign-up
            pass
        with transaction.atomic():
            append_lock()
            with connection.cursor() as cursor:
                cursor.execute(BACKLOG, {"type": APPOINTMENT_BOOKED, "count": events})
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (backend,) = cursor.fetchone()
        assert bus.process is not None  # noqa: S101  (started by nats_server)
        servers = {"nats-server": bus.process.pid, "postgres": backend}
        before = own_cpu_seconds(), {name: cpu_seconds(pid) for name, pid in servers.items()}
        published = 0
        with timed() as timer:
            while passed := relay.relay_pending(publisher):
                published += passed
        relay_cpu = own_cpu_seconds() - before[0]
        others = {name: cpu_seconds(pid) - before[1][name] for name, pid in servers.items()}
    finally:
        publisher.close()
    per_10k = 10_000 / max(published, 1)
    return {
        "events": published,
        "seconds": round(timer.seconds, 3),
        "events_per_s": round(published / timer.seconds),
        "relay_cpu_seconds_per_10k": round(relay_cpu * per_10k, 3),
        **{f"{name}_cpu_seconds_per_10k": round(s * per_10k, 3) for name, s in others.items()},
        "batch": relay.BATCH,
        "rounds": relay.ROUNDS,
        "in_flight": publisher.in_flight,
    }


async def _stored_at(url: str, subjects: str) -> dict[int, float]:
    """When the stream stored each of the tenant's positions (the server's clock)."""
    nc = await nats.connect(url)
    try:
        sub = await nc.jetstream().pull_subscribe(
            subjects,
            stream=STREAM,
            config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL),
        )
        stored: dict[int, float] = {}
        while True:
            try:
                batch = await sub.fetch(1000, timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):
                return stored
            for msg in batch:
                stored[json.loads(msg.data)["position"]] = msg.metadata.timestamp.timestamp()
    finally:
        await nc.close()


def lag(
    tenant: Tenant,
    url: str,
    env: dict[str, str],
    book: Callable[[], int],
    bookings: int,
    rate: float,
) -> dict[str, Any]:
    process = subprocess.Popen(  # noqa: S603  (our own command line)
        [sys.executable, "manage.py", "relay_events"],
        env={**env, "MYMEDIC_EVENT_BUS": url},
        stdout=subprocess.DEVNULL,
    )
    committed: list[tuple[float, int]] = []
    try:
        book()  # the relay is up (Django started, listening) once it has published this
        wait_for(lambda: _pending_of(tenant) is None, 120)
        interval, next_at = 1 / rate, time.perf_counter()
        for _ in range(bookings):
            position = book()
            committed.append((time.time(), position))  # wall clock: compared with the server's
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
        wait_for(lambda: _pending_of(tenant) is None, 60)
    finally:
        process.terminate()
        process.wait(20)
    subjects = f"{SUBJECT_PREFIX}.{tenant.region}.{tenant.slug}.>"
    stored = asyncio.run(_stored_at(url, subjects))
    lags = [max(stored[p] - at, 0.0) for at, p in committed if p in stored]
    return {
        **summary_ms(lags),
        "bookings": bookings,
        "rate_per_s": rate,
        "lost": bookings - len(lags),
    }


def bench_relay(
    tenant: Tenant,
    *,
    env: dict[str, str],
    book: Callable[[], int],
    events: int,
    bookings: int,
    rate: float,
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="mymedic-bus-") as folder,
        nats_server(Path(folder)) as bus,
    ):
        return {
            "throughput": throughput(tenant, bus, events),
            "lag": lag(tenant, bus.url, env, book, bookings, rate),
        }
