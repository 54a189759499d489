"""Archive and retention of a tenant's event log, audit trail and HL7 message stores (run in
its schema).

`logs_archive` moves every month older than the tenant's retention out of the database (for
the HL7 stores: older than MYMEDIC_HL7_RETENTION_DAYS, and only once all its messages are
settled: inbound ones applied, outbound ones sent or dead-lettered):

1. the read models are brought to the head and snapshotted (`replay.snapshot`), so a rebuild
   starts from the snapshots and reads only the live months;
2. per partition, oldest first, events, then audit entries, then inbound HL7 messages, then
   outbound ones: its rows are exported in id order to gzip NDJSON under
   `MYMEDIC_ARCHIVE_DIR` in chunks of MYMEDIC_ARCHIVE_CHUNK_ROWS, each a gzip member that
   is re-read (count, ids in order, for the audit trail the chain from the previous
   checkpoint) before the checkpoint (`ArchiveProgress`) moves past it. A run with a
   deadline stops after a chunk and the next goes on from the checkpoint; so does a run
   that was killed (what it wrote past the checkpoint is cut off and written again, to the
   same bytes);
3. then, in one short transaction under the tenant's append lock: DETACH the partition,
   check it holds no row past the exported ones (and, for a store whose rows change, none
   changed since the export began and none unsettled), record it (`ArchivedPartition`,
   signed with the anchor key: for the audit trail the chain head at the boundary, the
   checkpoint `verify_audit` goes on from), write an audit entry, DROP the detached table.

The rows leave the database only after every chunk of their file is verified, and only whole
partitions leave.
"""

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.backends.utils import CursorWrapper
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
    HL7_MESSAGES,
    HL7_OUTBOUND,
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
from apps.integration.models import Message, OutboundMessage

logger = logging.getLogger(__name__)

EXPORT_BATCH = 10_000
LOGS = (EVENT_LOG, AUDIT_TRAIL, HL7_MESSAGES, HL7_OUTBOUND)
HL7_STORES = (HL7_MESSAGES, HL7_OUTBOUND)
# A month of an HL7 store leaves only once every message of it is settled (SQL over its rows).
SETTLED = {
    # Inbound: applied. The error queue and the dead letters stay where a person can
    # reprocess them (as `hl7_purge` keeps them): reprocessing still changes patients' rows.
    HL7_MESSAGES.table: f"status = '{Message.Status.APPLIED}'",
    # Outbound: sent, or dead (the peer refused it past the channel's retries; its month is
    # past the retention and the file keeps it). A pending message keeps its month: it holds
    # its channel's later messages, and it can be sent only from this table.
    HL7_OUTBOUND.table: (
        f"status IN ('{OutboundMessage.Status.SENT}', '{OutboundMessage.Status.DEAD}')"
    ),
}
# Archived messages release their control ids (outbound: their positions), as a purged
# message does (its row's trigger).
RELEASE_CONTROL_IDS = (
    "DELETE FROM integration_messagecontrol AS c USING {partition} AS m "
    "WHERE c.channel_id = m.channel_id AND c.control_id = m.control_id"
)
RELEASE_POSITIONS = (
    "DELETE FROM integration_outboundposition AS c USING {partition} AS m "
    "WHERE c.channel_id = m.channel_id AND c.position = m.position"
)
# And their application ACKs go with them (`ApplicationAck.message` has no database constraint).
DELETE_APPLICATION_ACKS = (
    "DELETE FROM integration_applicationack AS a USING {partition} AS m WHERE a.message_id = m.id"
)


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
    """When the oldest live month of the event log or of an HL7 store passes its retention
    (None: nothing to wait for)."""
    with connection.cursor() as cursor:
        events = [p.upper for p in partitions(cursor, EVENT_LOG) if p.upper is not None]
        messages = [p.upper for store in HL7_STORES for p in partitions(cursor, store) if p.upper]
    due = []
    if events:
        keep = retention_months(connection.schema_name)
        due.append(instant(add_months(month_start(events[0]), keep)))
    if messages:
        due.append(min(messages) + timedelta(days=settings.MYMEDIC_HL7_RETENTION_DAYS))
    return min(due, default=None)


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
    """Archives every partition past retention (events, then audit entries, then inbound
    and outbound HL7 messages). With a `deadline` (time.monotonic()) it stops after the
    chunk that passes it: the last item is then not `finished`, and the next call goes on
    where this one stopped."""
    cutoffs = {log.table: archive_cutoff(now) for log in (EVENT_LOG, AUDIT_TRAIL)}
    for store in HL7_STORES:
        cutoffs[store.table] = hl7_cutoff(now)
    with connection.cursor() as cursor:
        due = {
            log.table: [p for p in partitions(cursor, log) if _past(p, cutoffs[log.table])]
            for log in LOGS
        }
        for store in HL7_STORES:
            due[store.table] = [
                p for p in due[store.table] if _settled(cursor, p, SETTLED[store.table])
            ]
    if not any(due.values()):
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


def hl7_cutoff(now: datetime | None = None) -> datetime:
    """HL7 message partitions (inbound and outbound) that end at or before this instant hold
    only messages older than MYMEDIC_HL7_RETENTION_DAYS."""
    days = timedelta(days=settings.MYMEDIC_HL7_RETENTION_DAYS)
    return instant(month_start((now or timezone.now()) - days))


def _settled(cursor: CursorWrapper, partition: Partition, condition: str) -> bool:
    quote = connection.ops.quote_name
    cursor.execute(
        f"SELECT NOT EXISTS (SELECT 1 FROM {quote(partition.name)} "  # noqa: S608
        f"WHERE NOT ({condition}))"
    )
    settled = bool(cursor.fetchone()[0])
    if not settled:
        logger.info(
            "archive waits for a month's queued messages schema=%s partition=%s",
            connection.schema_name,
            partition.name,
        )
    return settled


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
    try:
        _detach_and_drop(log, partition, record, progress, actor=actor)
    except Conflict:
        # The partition changed under the export (nothing was dropped): start it again.
        ArchiveProgress.objects.filter(pk=progress.pk).delete()
        raise
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
        if log.changed_at:
            # Its rows change (a message reprocessed, a dead letter sent again): none may have
            # changed since the first chunk was exported, or the file would hold an older
            # state of it; and none may be unsettled, which a change between the check that
            # chose the month and the export's start would leave (one scan for both).
            unsettled = f" OR NOT ({SETTLED[log.table]})" if log.table in SETTLED else ""
            cursor.execute(
                f"SELECT EXISTS (SELECT 1 FROM {quote(partition.name)} "  # noqa: S608
                f"WHERE {quote(log.changed_at)} >= %s{unsettled})",
                [progress.started],
            )
            if cursor.fetchone()[0]:
                raise Conflict(
                    f"{partition.name} changed while it was archived; nothing was dropped."
                )
        if log is HL7_MESSAGES:
            cursor.execute(RELEASE_CONTROL_IDS.format(partition=quote(partition.name)))
            cursor.execute(DELETE_APPLICATION_ACKS.format(partition=quote(partition.name)))
        if log is HL7_OUTBOUND:
            cursor.execute(RELEASE_POSITIONS.format(partition=quote(partition.name)))
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
