"""Writing and verifying the hash-chained audit trail.

`record()` writes one entry in the caller's transaction (so an audited change and its entry
commit together), under the tenant's append lock, chained to the previous entry by
SHA-256 over a canonical form of both. `verify()` walks the chain and also checks every
event of the log against the digest its entry recorded.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Field
from django.utils import timezone

from apps.audit import anchors
from apps.audit.models import AuditEntry
from apps.core.db import connection
from apps.eventstore import archivefiles
from apps.eventstore.context import current_origin
from apps.eventstore.locks import append_lock, deferred, in_command, kept_while_held
from apps.eventstore.models import ArchivedPartition, Event, archived_through

GENESIS = "0" * 64
VERIFY_BATCH = 5000


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + _canonical(fields)).encode()).hexdigest()


def event_digest(event: Event) -> str:
    return hashlib.sha256(
        _canonical(
            {
                "position": event.position,
                "stream": event.stream,
                "version": event.version,
                "type": event.type,
                "schema_version": event.schema_version,
                "data": event.data,
                "metadata": event.metadata,
                "occurred_at": event.occurred_at.isoformat(),
            }
        ).encode()
    ).hexdigest()


def _hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor_id": entry.actor_id,
        "actor_role": entry.actor_role,
        "branch_id": entry.branch_id,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
        "request_id": entry.request_id,
        "ip": entry.ip,
    }


# Ids taken from the sequence at once, doubling from the first to this many, while a hold of
# the append lock goes on (an HL7 batch writes two entries a message): one round trip for
# many entries, at the cost of a gap in the ids (as a rolled-back entry leaves) for the ids
# of the last block that are not used.
MAX_IDS_AHEAD = 64

# Quoted as Django quotes it, so the statement reads as the ORM's insert did.
_TABLE = f'"{AuditEntry._meta.db_table}"'
_HEAD = f"SELECT hash FROM {_TABLE} ORDER BY id DESC LIMIT 1"  # noqa: S608  (our table)
_TAKE = (
    "SELECT ARRAY(SELECT nextval(pg_get_serial_sequence("  # noqa: S608
    f"'{AuditEntry._meta.db_table}', 'id'))"
    f" FROM generate_series(1, %s)), ({_HEAD})"
)
# Inserts the entries only if the chain's head is still the one they were hashed on (so a
# head kept past a savepoint that was rolled back can never be written into the chain).
_COLUMNS = (
    "id, at, actor_id, actor_role, branch_id, action, target, detail, request_id, ip,"
    " prev_hash, hash"
)
_ROW = (
    "(%s::bigint, %s::timestamptz, %s::bigint, %s::varchar, %s::bigint, %s::varchar,"
    " %s::varchar, %s::jsonb, %s::varchar, %s::inet, %s::varchar, %s::varchar)"
)


def _insert_statement(rows: int) -> str:
    return (
        f"INSERT INTO {_TABLE} ({_COLUMNS}) SELECT * FROM (VALUES {', '.join([_ROW] * rows)})"  # noqa: S608  (our table, placeholders)
        f" AS v({_COLUMNS}) WHERE ({_HEAD}) IS NOT DISTINCT FROM %s::varchar"
    )


_INSERTED = [
    cast(Field, AuditEntry._meta.get_field(name))
    for name in (
        "id", "at", "actor_id", "actor_role", "branch_id", "action", "target", "detail",
        "request_id", "ip", "prev_hash", "hash",
    )
]  # fmt: skip


@dataclass
class _ChainEnd:
    """The trail's head as this transaction has it (the hash of its last entry; None while
    the trail is empty) and ids taken from the sequence ahead, in order."""

    head: str | None = None
    ids: list[int] = field(default_factory=list)
    # How many ids the next take asks for.
    block: int = 1

    def next_id(self, cursor: Any) -> int:
        """The next id, under the append lock (so id order is commit order). A take reads
        the head too, the database's (which knows what was rolled back)."""
        if not self.ids:
            cursor.execute(_TAKE, [self.block])
            ids, self.head = cursor.fetchone()
            self.ids = sorted(ids, reverse=True)
            self.block = min(self.block * 2, MAX_IDS_AHEAD)
        return self.ids.pop()

    def take(self, cursor: Any, count: int) -> list[int]:
        """The next `count` ids: those taken ahead first, the rest in one take."""
        if len(self.ids) < count:
            cursor.execute(_TAKE, [count - len(self.ids)])
            ids, self.head = cursor.fetchone()
            # Above those kept: kept last, so they are used first.
            self.ids = sorted(ids, reverse=True) + self.ids
        return [self.ids.pop() for _ in range(count)]


def _chain_end() -> _ChainEnd:
    """The chain's end kept for the running command's hold of the append lock (an HL7 batch:
    the head read once, not once an entry), or a new one for this entry alone."""
    kept = kept_while_held()
    if kept is None:
        return _ChainEnd()
    chain = kept.get("audit_chain")
    if chain is None:
        # Two: a registration (the patient and its link) takes its ids at once.
        chain = kept["audit_chain"] = _ChainEnd(block=2)
    return chain


def _insert(cursor: Any, entries: list[AuditEntry], head: str | None) -> bool:
    """Chains `entries` in order to `head` (None: the trail is empty) and inserts them, in
    one statement, if `head` is still the trail's head; False (nothing written) if not."""
    expected, params = head, []
    for entry in entries:
        entry.prev_hash = head or GENESIS
        entry.hash = head = entry_hash(entry.prev_hash, _hashed_fields(entry))
        params += [
            column.get_db_prep_save(getattr(entry, column.attname), connection)
            for column in _INSERTED
        ]
    cursor.execute(_insert_statement(len(entries)), [*params, expected])
    return cursor.rowcount == len(entries)


def record(
    action: str,
    *,
    actor: Any = None,
    actor_id: int | None = None,
    actor_role: str = "",
    target: str = "",
    branch_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Appends an entry in the caller's transaction.

    `actor` is a user (with `pk` and `role`); without one, `actor_id`/`actor_role` may name
    who acted, and an entry with neither is the system's. Inside `locks.deferring()` the
    entry is written with the others of the block when it ends, in the order recorded: its
    id and hash are set then.
    """
    origin = current_origin()
    entry = AuditEntry(
        actor_id=actor.pk if actor is not None else actor_id,
        actor_role=(actor.role if actor is not None else actor_role) or "system",
        branch_id=branch_id,
        action=action,
        target=target,
        detail=json.loads(_canonical(detail or {})),
        request_id=origin.request_id or "",
        ip=origin.client_ip,
    )
    pending = deferred("audit entries", _write_deferred)
    if pending is not None:
        # Under the lock already; its id is taken, and it is chained and written, with the
        # others of the block when the block ends (`_write_deferred`).
        entry.at = timezone.now()
        pending.append(entry)
        return entry
    with transaction.atomic(savepoint=not in_command()):
        append_lock()
        entry.at = timezone.now()
        chain = _chain_end()
        with connection.cursor() as cursor:
            entry.id = chain.next_id(cursor)
            _write(cursor, chain, [entry])
    return entry


def _write(cursor: Any, chain: _ChainEnd, entries: list[AuditEntry]) -> None:
    """Chains `entries` to the trail's head and inserts them; the chain's end moves on."""
    if not _insert(cursor, entries, chain.head):
        # The kept head was undone since (a savepoint rolled back): the database's.
        cursor.execute(_HEAD)
        row = cursor.fetchone()
        chain.head = row[0] if row else None
        if not _insert(cursor, entries, chain.head):
            raise RuntimeError("The audit trail's head moved under the append lock.")
    chain.head = entries[-1].hash
    for entry in entries:
        entry._state.adding = False
        entry._state.db = connection.alias


def _write_deferred(entries: list[AuditEntry]) -> None:
    """The entries recorded inside `locks.deferring()`, at its end: their ids in one take
    (or from those taken ahead) in the order they were recorded, then one insert. Nothing
    else writes to the trail in between: the block is inside the same hold of the lock."""
    if not entries:
        return
    chain = _chain_end()
    with connection.cursor() as cursor:
        for entry, taken in zip(entries, chain.take(cursor, len(entries)), strict=True):
            entry.id = taken
        _write(cursor, chain, entries)


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head: str
    broken_at: int | None = None
    problem: str = ""
    anchors: int = 0


def verify(*, archives: bool = False) -> Verification:
    """Walks the chain from the start and the event log beside it; stops at the first entry
    or event that does not fit. Events were appended, and audited, in position order.

    Once months were archived, the walk starts at the signed checkpoint of the last archived
    audit month (its last entry's id and hash) and skips the events archived before; with
    `archives`, the archive files are verified first (`verify_archives`) and the anchors of
    archived entries are checked against them."""
    previous, count, archived_hashes = GENESIS, 0, None
    if archives:
        found = verify_archives()
        if not found.ok:
            return found.verification
        archived_hashes, count = found.hashes, found.verification.entries
    entries = AuditEntry.objects.order_by("id")
    checkpoint = archived_through(AuditEntry._meta.db_table)
    if checkpoint is not None:
        if not anchors.signature_matches(
            checkpoint.signed_facts(connection.schema_name), checkpoint.mac
        ):
            return Verification(
                False,
                count,
                previous,
                None,
                "the archive checkpoint is not signed by this deployment's key",
            )
        previous = checkpoint.last_hash
        entries = entries.filter(id__gt=checkpoint.last_id or 0)
    archived_events = archived_through(Event._meta.db_table)
    event_floor = (archived_events.last_id or 0) if archived_events else 0
    events = (
        Event.objects.filter(position__gt=event_floor)
        .order_by("position")
        .iterator(chunk_size=VERIFY_BATCH)
    )
    for entry in entries.iterator(chunk_size=VERIFY_BATCH):
        if entry.prev_hash != previous:
            return Verification(
                False, count, previous, entry.id, "the link to the previous entry is broken"
            )
        if entry_hash(previous, _hashed_fields(entry)) != entry.hash:
            return Verification(False, count, previous, entry.id, "the entry was changed")
        if entry.action == "event.appended" and _position(entry.target) > event_floor:
            event = next(events, None)
            position = _position(entry.target)
            if event is None or event.position != position:
                return Verification(
                    False, count, previous, entry.id, f"event {position} is missing from the log"
                )
            if event_digest(event) != entry.detail.get("digest"):
                return Verification(
                    False, count, previous, entry.id, f"event {position} was changed"
                )
        previous, count = entry.hash, count + 1
    extra = next(events, None)
    if extra is not None:
        return Verification(
            False, count, previous, None, f"event {extra.position} has no audit entry"
        )
    # A chain rewritten and re-hashed whole is consistent in itself; its anchors are not.
    floor = (checkpoint.last_id or 0) if checkpoint else 0
    anchored, problem = anchors.check(floor, archived_hashes)
    if problem:
        return Verification(False, count, previous, None, problem, anchored)
    return Verification(True, count, previous, anchors=anchored)


def links_to(entry: AuditEntry, previous: str) -> bool:
    """True when `entry` follows the entry whose hash is `previous` and is unchanged."""
    return entry.prev_hash == previous and entry_hash(previous, _hashed_fields(entry)) == entry.hash


def _position(target: str) -> int:
    return int(target.split(":", 1)[1])


@dataclass(frozen=True)
class ArchivesFound:
    verification: Verification
    # Entry id → hash of every archived entry (for the anchors).
    hashes: dict[int, str]

    @property
    def ok(self) -> bool:
        return self.verification.ok


def archived_entry(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=datetime.fromisoformat(row["at"]),
        actor_id=row["actor_id"],
        actor_role=row["actor_role"],
        branch_id=row["branch_id"],
        action=row["action"],
        target=row["target"],
        detail=row["detail"],
        request_id=row["request_id"],
        ip=row["ip"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def _archived_event(row: dict[str, Any]) -> Event:
    return Event(
        position=row["position"],
        stream=row["stream"],
        version=row["version"],
        type=row["type"],
        schema_version=row["schema_version"],
        data=row["data"],
        metadata=row["metadata"],
        occurred_at=datetime.fromisoformat(row["occurred_at"]),
    )


def _check_file(record: ArchivedPartition) -> str:
    """The first problem of an archive file and its manifest against the signed record."""
    schema = connection.schema_name
    if not anchors.signature_matches(record.signed_facts(schema), record.mac):
        return f"the record of {record.partition} is not signed by this deployment's key"
    path = Path(record.path)
    if not path.exists():
        return f"the archive file of {record.partition} is missing"
    if archivefiles.file_sha256(path) != record.sha256:
        return f"the archive file of {record.partition} was changed (SHA-256 differs)"
    return ""


def verify_archives() -> ArchivesFound:
    """Re-reads every archived month: each file against its signed record, the audit chain
    through the archived entries into the checkpoint, and each archived event against the
    digest its (archived or live) entry recorded. Streams the files: memory stays flat
    whatever a month holds (only anchored entries' hashes are kept)."""
    previous, count = GENESIS, 0
    anchored = {anchor.entry for anchor, _ in anchors.read_anchors() if anchor is not None}
    hashes: dict[int, str] = {}
    records = list(ArchivedPartition.objects.order_by("upper"))
    audit_records = [r for r in records if r.table == AuditEntry._meta.db_table]

    def broken(problem: str, at: int | None = None) -> ArchivesFound:
        return ArchivesFound(Verification(False, count, previous, at, problem), hashes)

    for record in audit_records:
        if problem := _check_file(record):
            return broken(problem)
        for row in archivefiles.read_rows(Path(record.path)):
            entry = archived_entry(row)
            if entry.prev_hash != previous:
                return broken("the link to the previous entry is broken", entry.id)
            if entry_hash(previous, _hashed_fields(entry)) != entry.hash:
                return broken("the entry was changed", entry.id)
            if entry.id in anchored:
                hashes[entry.id] = entry.hash
            previous, count = entry.hash, count + 1
        if previous != record.last_hash:
            return broken(f"the archive of {record.partition} does not end at its checkpoint")
    digests = _appended_digests(audit_records)
    wanted = (0, "")
    for record in (r for r in records if r.table == Event._meta.db_table):
        if problem := _check_file(record):
            return broken(problem)
        for row in archivefiles.read_rows(Path(record.path)):
            event = _archived_event(row)
            while wanted[0] < event.position:
                wanted = next(digests, (event.position + 1, ""))
            if wanted[0] != event.position or wanted[1] != event_digest(event):
                return broken(f"archived event {event.position} does not match its audit entry")
    return ArchivesFound(Verification(True, count, previous), hashes)


def _appended_digests(audit_records: list[ArchivedPartition]) -> Iterator[tuple[int, str]]:
    """(position, digest) of every appended event's entry, archived then live, in order."""
    for record in audit_records:
        for row in archivefiles.read_rows(Path(record.path)):
            if row["action"] == "event.appended":
                yield _position(row["target"]), row["detail"].get("digest", "")
    live = AuditEntry.objects.filter(action="event.appended").order_by("id")
    checkpoint = audit_records[-1].last_id if audit_records else None
    if checkpoint:
        live = live.filter(id__gt=checkpoint)
    for target, detail in live.values_list("target", "detail").iterator(chunk_size=VERIFY_BATCH):
        yield _position(target), detail.get("digest", "")
