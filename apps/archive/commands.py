"""Archive and retention of a tenant's event log and audit trail (run in its schema).

`logs_archive` moves every month older than the tenant's retention out of the database:

1. the read models are brought to the head and snapshotted (`replay.snapshot`), so a rebuild
   starts from the snapshots and reads only the live months;
2. per partition, oldest first, events before audit entries: its rows are exported in id
   order to gzip NDJSON under `MYMEDIC_ARCHIVE_DIR`, and the file is re-read: same count,
   same SHA-256, and for the audit trail the chain checked through it from the previous
   checkpoint;
3. then, in one short transaction under the tenant's append lock: DETACH the partition,
   check it holds no row past the exported ones, record it (`ArchivedPartition`, signed with the
   anchor key: for the audit trail the chain head at the boundary, the checkpoint
   `verify_audit` goes on from), write an audit entry, DROP the detached table.

The rows leave the log only after their file is verified, and only whole partitions leave:
no row is ever updated or deleted.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.archive.models import RetentionOverride
from apps.archive.policy import LEGAL_MINIMUM_MONTHS, REFUSAL, retention_months
from apps.audit import anchors, trail
from apps.core.db import connection
from apps.core.errors import Conflict, InvalidInput
from apps.core.partitions import (
    APPEND_LOCK,
    APPEND_LOCK_CLASS,
    AUDIT_TRAIL,
    EVENT_LOG,
    MonthlyLog,
    Partition,
    add_months,
    detach,
    ensure_ahead,
    instant,
    month_start,
    partitions,
)
from apps.eventstore import archivefiles, replay
from apps.eventstore.models import ArchivedPartition, ProjectionState, archived_through
from apps.eventstore.projections import catch_up, projections

EXPORT_BATCH = 10_000
LOGS = (EVENT_LOG, AUDIT_TRAIL)


def retention_set(*, months: int, actor: Any) -> RetentionOverride:
    """Gives this tenant its own retention; refuses less than the legal minimum."""
    if months < LEGAL_MINIMUM_MONTHS:
        raise InvalidInput(REFUSAL)
    with transaction.atomic():
        override, _ = RetentionOverride.objects.update_or_create(
            singleton=True,
            defaults={"months": months, "set_by_id": getattr(actor, "pk", None)},
        )
        trail.record("retention.set", actor=actor, target="retention", detail={"months": months})
    return override


def partitions_make(now: datetime | None = None) -> list[str]:
    """The partitions of this month and the next two, for both logs; returns those made."""
    return ensure_ahead(now)


def archive_cutoff(now: datetime | None = None) -> datetime:
    """Partitions that end at or before this instant are past the tenant's retention."""
    keep = retention_months(connection.schema_name)
    return instant(add_months(month_start(now or timezone.now()), -keep))


def next_archive_due(now: datetime | None = None) -> datetime | None:
    """When the oldest live month passes retention (None: nothing to wait for)."""
    with connection.cursor() as cursor:
        found = [p for p in partitions(cursor, EVENT_LOG) if not p.is_default and p.upper]
    if not found or found[0].upper is None:
        return None
    keep = retention_months(connection.schema_name)
    return instant(add_months(month_start(found[0].upper), keep))


@dataclass
class Archived:
    partition: str
    rows: int
    seconds: dict[str, float] = field(default_factory=dict)


def logs_archive(*, actor: Any, now: datetime | None = None) -> list[Archived]:
    """Archives every partition past retention (events first, then audit entries)."""
    cutoff = archive_cutoff(now)
    with connection.cursor() as cursor:
        due = {log.table: [p for p in partitions(cursor, log) if _past(p, cutoff)] for log in LOGS}
    if not due[EVENT_LOG.table] and not due[AUDIT_TRAIL.table]:
        return []
    if due[EVENT_LOG.table]:
        _snapshot_read_models()
    done = []
    for log in LOGS:
        for partition in due[log.table]:
            done.append(archive_partition(log, partition, actor=actor))
    return done


def _past(partition: Partition, cutoff: datetime) -> bool:
    return not partition.is_default and partition.upper is not None and partition.upper <= cutoff


def _snapshot_read_models() -> None:
    """Every read model current and snapshotted: a rebuild then needs no archived event."""
    catch_up()
    for projection in projections():
        state = ProjectionState.objects.filter(name=projection.name).first()
        if state is not None and state.status == ProjectionState.Status.PARKED:
            raise Conflict(
                f"Projection {projection.name} is parked; retry it before archiving the log."
            )
        replay.snapshot(projection)


def _rows(partition: str, log: MonthlyLog) -> Iterator[str]:
    """The partition's rows as JSON text in id order, read in batches on a server cursor."""
    raw = connection.connection
    quote = connection.ops.quote_name
    quoted = f"{quote(connection.schema_name)}.{quote(partition)}"
    with transaction.atomic(), raw.cursor(name=f"export_{partition}") as cursor:
        cursor.itersize = EXPORT_BATCH
        cursor.execute(
            f"SELECT row_to_json(t)::text FROM {quoted} AS t "  # noqa: S608
            f"ORDER BY {connection.ops.quote_name(log.id)}"
        )
        for (line,) in cursor:
            yield line


def archive_partition(log: MonthlyLog, partition: Partition, *, actor: Any) -> Archived:
    schema = connection.schema_name
    result = Archived(partition.name, 0)
    path = archivefiles.data_path(schema, log.table, partition.name)
    connection.ensure_connection()
    started = time.monotonic()
    rows = archivefiles.write_rows(path, _rows(partition.name, log))
    result.seconds["export"] = time.monotonic() - started
    started = time.monotonic()
    record = _verified_record(log, partition, path, rows)
    result.seconds["verify"] = time.monotonic() - started
    started = time.monotonic()
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(APPEND_LOCK, [APPEND_LOCK_CLASS])
        detach(cursor, log, partition.name)
        # Ids only grow and rows never change, so a row the file lacks would be one past its
        # last id: an index probe, not a count, while appends wait.
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {quote(partition.name)} "  # noqa: S608
            f"WHERE {quote(log.id)} > %s)",
            [record.last_id if rows else -1],
        )
        if cursor.fetchone()[0]:
            raise Conflict(f"{partition.name} changed while it was archived; nothing was dropped.")
        record.mac = anchors.sign(record.signed_facts(schema))
        record.save(force_insert=True)
        archivefiles.write_manifest(path, _manifest(record, schema))
        trail.record(
            "log.archived",
            actor=actor,
            target=f"partition:{partition.name}",
            detail={"rows": rows, "sha256": record.sha256},
        )
        cursor.execute(f"DROP TABLE {quote(partition.name)}")
    result.seconds["detach_drop"] = time.monotonic() - started
    result.rows = rows
    return result


def _verified_record(
    log: MonthlyLog, partition: Partition, path: Path, rows: int
) -> ArchivedPartition:
    """Re-reads the file: the same number of rows, ids in order, and for the audit trail
    the chain unbroken from the previous checkpoint. Raises Conflict when it is not."""
    count, first, last = 0, None, None
    before = archived_through(log.table)
    previous = _checkpoint_hash() if log is AUDIT_TRAIL else ""
    last_hash = previous  # an empty month carries the checkpoint forward
    for row in archivefiles.read_rows(path):
        ident = int(row[log.id])
        if last is not None and ident <= last:
            raise Conflict(f"The archive of {partition.name} is out of order at {ident}.")
        if log is AUDIT_TRAIL:
            entry = trail.archived_entry(row)
            if not trail.links_to(entry, previous):
                raise Conflict(f"The audit chain is broken at entry {ident}; nothing archived.")
            previous = last_hash = entry.hash
        first = ident if first is None else first
        last, count = ident, count + 1
    if count != rows:
        raise Conflict(f"The archive of {partition.name} re-reads {count} rows, not {rows}.")
    if last is None and before is not None:
        last = before.last_id
    if partition.upper is None:
        raise Conflict(f"{partition.name} is the DEFAULT partition: it is never archived.")
    return ArchivedPartition(
        table=log.table,
        partition=partition.name,
        lower=partition.lower,
        upper=partition.upper,
        rows=rows,
        first_id=first,
        last_id=last,
        last_hash=last_hash if log is AUDIT_TRAIL else "",
        path=str(path),
        sha256=archivefiles.file_sha256(path),
    )


def _checkpoint_hash() -> str:
    checkpoint = archived_through(AUDIT_TRAIL.table)
    return checkpoint.last_hash if checkpoint else trail.GENESIS


def _manifest(record: ArchivedPartition, schema: str) -> dict[str, Any]:
    return {
        "schema": schema,
        "table": record.table,
        "partition": record.partition,
        "lower": record.lower.isoformat() if record.lower else None,
        "upper": record.upper.isoformat(),
        "rows": record.rows,
        "first_id": record.first_id,
        "last_id": record.last_id,
        "last_hash": record.last_hash,
        "file": Path(record.path).name,
        "sha256": record.sha256,
        "mac": record.mac,
        "format": "gzip NDJSON, one row_to_json per line, in id order",
    }
