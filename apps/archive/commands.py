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

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.archive.models import ArchiveProgress, RetentionOverride
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
    # False: the step's time ran out; the partition's checkpoint is where the next one goes on.
    finished: bool = True
    chunks: int = 0  # written by this call


def logs_archive(
    *, actor: Any, now: datetime | None = None, deadline: float | None = None
) -> list[Archived]:
    """Archives every partition past retention (events first, then audit entries). With a
    `deadline` (time.monotonic()) it stops after the chunk that passes it: the last item is
    then not `finished`, and the next call goes on where this one stopped."""
    cutoff = archive_cutoff(now)
    with connection.cursor() as cursor:
        due = {log.table: [p for p in partitions(cursor, log) if _past(p, cutoff)] for log in LOGS}
    if not due[EVENT_LOG.table] and not due[AUDIT_TRAIL.table]:
        return []
    # A snapshot taken when the first chunk of the events began covers them still (archived
    # months are older than any event appended since).
    if due[EVENT_LOG.table] and not ArchiveProgress.objects.filter(table=EVENT_LOG.table).exists():
        _snapshot_read_models()
    done = []
    for log in LOGS:
        for partition in due[log.table]:
            step = archive_partition(log, partition, actor=actor, deadline=deadline)
            done.append(step)
            if not step.finished:
                return done
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


def _chunk_rows(partition: str, log: MonthlyLog, after: int | None, limit: int) -> Iterator[str]:
    """Up to `limit` rows of the partition after id `after`, as JSON text in id order, read in
    batches on a server cursor (inside the caller's transaction)."""
    raw = connection.connection
    quote = connection.ops.quote_name
    quoted = f"{quote(connection.schema_name)}.{quote(partition)}"
    with raw.cursor(name=f"export_{partition}") as cursor:
        cursor.itersize = EXPORT_BATCH
        cursor.execute(
            f"SELECT row_to_json(t)::text FROM {quoted} AS t "  # noqa: S608
            f"WHERE {quote(log.id)} > %s ORDER BY {quote(log.id)} LIMIT %s",
            [after if after is not None else -1, limit],
        )
        for (line,) in cursor:
            yield line


def archive_partition(
    log: MonthlyLog, partition: Partition, *, actor: Any, deadline: float | None = None
) -> Archived:
    """Archives one partition in chunks, each checkpointed (`ArchiveProgress`); stops after
    the chunk that passes `deadline` (time.monotonic()) with `finished` False, and the next
    call goes on from the checkpoint. Detaches and drops only once every chunk is verified."""
    if partition.upper is None:
        raise Conflict(f"{partition.name} is the DEFAULT partition: it is never archived.")
    result = Archived(partition.name, 0)
    path = archivefiles.data_path(connection.schema_name, log.table, partition.name)
    partial = archivefiles.partial_path(path)
    connection.ensure_connection()
    progress, _ = ArchiveProgress.objects.get_or_create(
        partition=partition.name,
        defaults={
            "table": log.table,
            "last_hash": _checkpoint_hash() if log is AUDIT_TRAIL else "",
        },
    )
    while not progress.complete:
        started = time.monotonic()
        progress = _export_chunk(log, partition, partial, progress.pk)
        took = time.monotonic() - started
        result.seconds["export_verify"] = result.seconds.get("export_verify", 0.0) + took
        result.seconds["slowest_chunk"] = max(result.seconds.get("slowest_chunk", 0.0), took)
        result.chunks += 1
        if not progress.complete and deadline is not None and time.monotonic() >= deadline:
            result.rows, result.finished = progress.rows, False
            return result
    if partial.exists():
        partial.replace(path)
    started = time.monotonic()
    record = _record(log, partition, path, progress)
    result.seconds["checksum"] = time.monotonic() - started
    started = time.monotonic()
    _detach_and_drop(log, partition, record, progress, actor=actor)
    result.seconds["detach_drop"] = time.monotonic() - started
    result.rows = progress.rows
    return result


def _export_chunk(
    log: MonthlyLog, partition: Partition, partial: Path, progress_id: int
) -> ArchiveProgress:
    """The next chunk after the checkpoint: written at the checkpoint's offset, re-read and
    checked (ids in order and past the last one, the audit chain linked), then the
    checkpoint moves past it. The checkpoint row stays locked meanwhile, so two runs of the
    same tenant take turns; a killed run leaves the checkpoint where it was."""
    limit = settings.MYMEDIC_ARCHIVE_CHUNK_ROWS
    with transaction.atomic():
        progress = ArchiveProgress.objects.select_for_update().get(pk=progress_id)
        if progress.complete:
            return progress
        written, end = archivefiles.append_member(
            partial, progress.offset, _chunk_rows(partition.name, log, progress.last_id, limit)
        )
        count, last, previous = 0, progress.last_id, progress.last_hash
        for row in archivefiles.read_member(partial, progress.offset):
            ident = int(row[log.id])
            if last is not None and ident <= last:
                raise Conflict(f"The archive of {partition.name} is out of order at {ident}.")
            if log is AUDIT_TRAIL:
                entry = trail.archived_entry(row)
                if not trail.links_to(entry, previous):
                    raise Conflict(f"The audit chain is broken at entry {ident}; nothing archived.")
                previous = entry.hash
            if progress.first_id is None:
                progress.first_id = ident
            last, count = ident, count + 1
        if count != written:
            raise Conflict(f"The archive of {partition.name} re-reads {count} rows, not {written}.")
        progress.rows += count
        progress.last_id, progress.last_hash, progress.offset = last, previous, end
        progress.complete = count < limit
        progress.chunks += 1
        progress.save()
    return progress


def _record(
    log: MonthlyLog, partition: Partition, path: Path, progress: ArchiveProgress
) -> ArchivedPartition:
    last = progress.last_id
    if last is None:  # an empty month carries the previous archive's last id forward
        before = archived_through(log.table)
        last = before.last_id if before is not None else None
    assert partition.upper is not None  # noqa: S101 - archive_partition refused the DEFAULT
    return ArchivedPartition(
        table=log.table,
        partition=partition.name,
        lower=partition.lower,
        upper=partition.upper,
        rows=progress.rows,
        first_id=progress.first_id,
        last_id=last,
        last_hash=progress.last_hash if log is AUDIT_TRAIL else "",
        path=str(path),
        sha256=archivefiles.file_sha256(path),
    )


def _detach_and_drop(
    log: MonthlyLog,
    partition: Partition,
    record: ArchivedPartition,
    progress: ArchiveProgress,
    *,
    actor: Any,
) -> None:
    schema = connection.schema_name
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(APPEND_LOCK, [APPEND_LOCK_CLASS])
        detach(cursor, log, partition.name)
        # Ids only grow and rows never change, so a row the file lacks would be one past its
        # last id: an index probe, not a count, while appends wait.
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {quote(partition.name)} "  # noqa: S608
            f"WHERE {quote(log.id)} > %s)",
            [progress.last_id if progress.rows else -1],
        )
        if cursor.fetchone()[0]:
            raise Conflict(f"{partition.name} changed while it was archived; nothing was dropped.")
        record.mac = anchors.sign(record.signed_facts(schema))
        record.save(force_insert=True)
        archivefiles.write_manifest(Path(record.path), _manifest(record, schema))
        trail.record(
            "log.archived",
            actor=actor,
            target=f"partition:{partition.name}",
            detail={"rows": record.rows, "sha256": record.sha256},
        )
        ArchiveProgress.objects.filter(pk=progress.pk).delete()
        cursor.execute(f"DROP TABLE {quote(partition.name)}")


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
