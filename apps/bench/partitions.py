"""`make bench ARGS='--only partitions'`: a month of hospital volume archived, and the online
partitioning of an existing log.

- *archive*: one month partition of a fresh tenant's event log is filled with `events` rows
  (SQL generate_series straight into the partition, triggers off: the fill is not what is
  measured), then archived by the archive's own step (`archive_partition`, without a
  deadline): chunks of MYMEDIC_ARCHIVE_CHUNK_ROWS exported to gzip NDJSON, each re-read,
  verified and checkpointed, the file's SHA-256, then DETACH, probe and DROP under the
  append lock. Meanwhile a writer appends one event every 10 ms to the tenant's current
  month: its slowest append is what appends see of the DETACH. The read-model snapshot that
  precedes it in `logs_archive` is left out: its cost is the projections', not the log's.
- *online migration*: a scratch schema holds the event log as it was before partitioning
  (the model's table, its indexes and triggers) with `migration_events` rows; a writer
  appends one event every 10 ms while migration 0006 runs online (concurrent index builds,
  NOT VALID → VALID check, then the locked swap). Reported: the swap's lock time and the
  writer's slowest append during the whole migration.
"""

import shutil
import threading
import time
from collections.abc import Callable
from datetime import date
from importlib import import_module
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.core.management.base import OutputWrapper
from django.db import connections, transaction
from django_tenants.utils import schema_context

from apps.archive.commands import archive_partition
from apps.core.db import connection
from apps.core.partitions import EVENT_LOG, ensure_months, partitions
from apps.eventstore.models import ArchivedPartition, Event
from apps.tenants.models import Tenant

BENCH_MONTH = date(2020, 1, 1)
SCRATCH = "bench_partition_migration"

FILL = """
INSERT INTO {table} (position, stream, version, type, schema_version, data, metadata, occurred_at)
SELECT nextval('eventstore_event_position_seq'), 'appointment-' || g, 1 + g %% 3,
       'AppointmentBooked', 1,
       jsonb_build_object('id', g, 'doctor_id', g %% 2000, 'patient_id', g, 'branch_id', 1,
                          'date', '2020-01-15', 'status', 'booked', 'fee', '500.00'),
       jsonb_build_object('actor_id', NULL, 'actor_role', 'system', 'branch_id', 1),
       timestamptz '2020-01-01 00:00:00+00' + (g %% 2678400) * interval '1 second'
FROM generate_series(%(start)s, %(stop)s) AS g
"""
FILL_BATCH = 500_000


def _fill(table: str, count: int, stderr: TextIO | OutputWrapper) -> float:
    started = time.perf_counter()
    for start in range(0, count, FILL_BATCH):
        stop = min(start + FILL_BATCH, count) - 1
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(FILL.format(table=table), {"start": start, "stop": stop})
        stderr.write(f"\r  filled {stop + 1}/{count}")
    stderr.write("\n")
    return time.perf_counter() - started


def bench_archive(tenant: Tenant, events: int, stderr: TextIO | OutputWrapper) -> dict[str, Any]:
    with schema_context(tenant.schema_name):
        ensure_months(EVENT_LOG, [BENCH_MONTH])
        name = EVENT_LOG.partition_name(BENCH_MONTH)
        fill_seconds = _fill(name, events, stderr)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {name}")
            cursor.execute("SELECT pg_total_relation_size(%s)", [name])
            (size,) = cursor.fetchone()
            partition = next(p for p in partitions(cursor, EVENT_LOG) if p.name == name)
        stop, waits = threading.Event(), list[float]()
        writer = threading.Thread(target=_writer, args=(tenant.schema_name, stop, waits))
        writer.start()
        time.sleep(0.5)
        started = time.perf_counter()
        try:
            done = archive_partition(EVENT_LOG, partition, actor=None)
        finally:
            total = time.perf_counter() - started
            time.sleep(0.5)
            stop.set()
            writer.join(30)
        path = Path(ArchivedPartition.objects.get(partition=name).path)
        file_bytes = path.stat().st_size
        shutil.rmtree(path.parent)
    waits.sort()
    return {
        "events": done.rows,
        "fill_s": round(fill_seconds, 1),
        "table_mib": round(size / 2**20),
        "file_mib": round(file_bytes / 2**20, 1),
        "chunk_rows": settings.MYMEDIC_ARCHIVE_CHUNK_ROWS,
        "chunks": done.chunks,
        "export_verify_s": round(done.seconds["export_verify"], 2),
        "slowest_chunk_s": round(done.seconds["slowest_chunk"], 2),
        "checksum_s": round(done.seconds["checksum"], 2),
        "detach_check_drop_s": round(done.seconds["detach_drop"], 2),
        "total_s": round(total, 2),
        "events_per_s": round(done.rows / total),
        "writer_appends": len(waits),
        "writer_append_p50_ms": round(waits[len(waits) // 2] * 1000, 1) if waits else None,
        "writer_slowest_append_ms": round(max(waits, default=0.0) * 1000, 1),
    }


def _writer(schema: str, stop: threading.Event, waits: list[float]) -> None:
    """Appends one event every 10 ms under the append lock, as a command would."""
    try:
        connection.set_schema(schema)
        n = 0
        while not stop.is_set():
            started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))",
                    [0x4D594D44],
                )
                cursor.execute(
                    "INSERT INTO eventstore_event (stream, version, type, schema_version, data, "
                    "metadata, occurred_at) VALUES (%s, 1, 'Probe', 1, '{}', '{}', now())",
                    [f"writer-{n}"],
                )
            waits.append(time.perf_counter() - started)
            n += 1
            time.sleep(0.01)
    finally:
        connections.close_all()


def bench_online_migration(events: int, stderr: TextIO | OutputWrapper) -> dict[str, Any]:
    migration = import_module("apps.eventstore.migrations.0006_partitioned_by_month")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")
        cursor.execute(f"CREATE SCHEMA {SCRATCH}")
    connection.set_schema(SCRATCH)
    try:
        with connection.schema_editor() as editor:
            editor.create_model(Event)
            editor.execute(
                "CREATE INDEX event_data_date ON eventstore_event ((data->>'date'), type)"
            )
        fill_seconds = _fill("eventstore_event", events, stderr)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE eventstore_event")
        stop, waits = threading.Event(), list[float]()
        writer = threading.Thread(target=_writer, args=(SCRATCH, stop, waits))
        writer.start()
        time.sleep(0.5)
        started = time.perf_counter()
        try:
            with connection.schema_editor(atomic=False) as editor:
                result = migration.partition(None, editor)
        finally:
            total = time.perf_counter() - started
            time.sleep(0.5)
            stop.set()
            writer.join(30)
    finally:
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")
    return {
        "events": events,
        "fill_s": round(fill_seconds, 1),
        "migration_s": round(total, 2),
        "prepare_s": round(result.prepare_seconds, 2),
        "swap_lock_ms": round(result.swap_seconds * 1000, 1),
        "writer_appends": len(waits),
        "writer_slowest_append_ms": round(max(waits, default=0.0) * 1000, 1),
    }


def bench_partitions(
    make_tenant: Callable[[], Tenant],
    drop_tenant: Callable[[Tenant], None],
    events: int,
    migration_events: int,
    stderr: TextIO | OutputWrapper,
) -> dict[str, Any]:
    tenant = make_tenant()
    try:
        archive = bench_archive(tenant, events, stderr)
    finally:
        drop_tenant(tenant)
    if not migration_events:  # --partition-migration-events 0: the archive only
        return {"archive": archive}
    return {
        "archive": archive,
        "online_migration": bench_online_migration(migration_events, stderr),
    }
