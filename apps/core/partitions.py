"""Logs RANGE-partitioned by calendar month (UTC), one definition for each.

A log (the event log, the audit trail, and the HL7 message stores, inbound and outbound,
whose rows change status but never month) is a partitioned table whose partition key is its
timestamp column.
PostgreSQL wants the key in every unique index, so the primary key is (id, key); the id
still comes from one sequence owned by the parent, so ids stay one global order across
partitions. Unique rules that do not contain the key are kept elsewhere (the event log's
stream heads, `eventstore.0006`; the HL7 store's control ids, `integration.0004`; the
outbound store's (channel, position) claims, `integration.0005`).

- **Months ahead.** `ensure_months` makes the partitions of the given months; a DEFAULT
  partition takes any row whose month has none yet, so an insert never fails. A month made
  while the DEFAULT partition holds rows of it moves those rows into the new partition
  (detach, copy, attach; no row is ever updated or deleted).
- **Online conversion.** `convert` turns an existing plain table into the partitioned one
  without copying it: indexes that the partitioned parent needs are built CONCURRENTLY on
  the old table, a CHECK (key < next month) is added NOT VALID and validated while writes
  go on, and a short transaction under the tenant's append lock swaps the names and
  ATTACHes the old table as the partition of everything before next month (the validated
  CHECK spares PostgreSQL the scan). It returns how long that swap held its locks.
- **Archive path.** `detach` is the only way rows leave an append-only log: the partition is
  detached (and later dropped) whole; the append-only triggers still refuse UPDATE, DELETE
  and TRUNCATE on every partition. A store whose rows change (`append_only=False`) has
  instead a trigger refusing changes to its `fixed` columns, the partition key first.
"""

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from apps.core.db import connection

# Same class as apps.eventstore.locks.APPEND_LOCK_CLASS (core knows no other app): appends
# and the swap of a log wait for each other.
APPEND_LOCK = "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))"
APPEND_LOCK_CLASS = 0x4D594D44

LEGACY_SUFFIX = "_legacy"
DEFAULT_SUFFIX = "_default"
_BOUND = re.compile(r"FROM \((.+)\) TO \((.+)\)")


@dataclass(frozen=True)
class MonthlyLog:
    """A log table partitioned by month: its id column, partition key and its triggers."""

    table: str
    id: str
    key: str
    # Prefix of the append-only triggers (`<prefix>_append_only`, `<prefix>_no_truncate`).
    trigger_prefix: str
    # Statement trigger that notes the log's head (apps.core.db.note_head) and its function.
    head_trigger: str = ""
    head_function: str = ""
    # Row trigger run before each insert (the event log's stream heads), or "".
    insert_check: str = ""
    # False for a store whose rows change (the HL7 messages' status): no append-only
    # triggers; instead an UPDATE may not change the `fixed` columns (the partition key
    # first: a row never moves between months), and `after_delete` runs for each deleted row.
    append_only: bool = True
    fixed: tuple[str, ...] = ()
    after_delete: str = ""
    # Column stamped at each change of a row (stores whose rows change): the archive refuses
    # to drop a partition with a row changed after its export began.
    changed_at: str = ""

    @property
    def sequence(self) -> str:
        return f"{self.table}_{self.id}_seq"

    @property
    def default_partition(self) -> str:
        return f"{self.table}{DEFAULT_SUFFIX}"

    def partition_name(self, month: date) -> str:
        return f"{self.table}_p{month:%Y%m}"


EVENT_LOG = MonthlyLog(
    table="eventstore_event",
    id="position",
    key="occurred_at",
    trigger_prefix="eventstore_event",
    head_trigger="eventstore_event_note_head",
    head_function="public.mymedic_note_events_head",
    insert_check="public.mymedic_event_stream_head",
)
# The inbound HL7 v2 message store (apps.integration): its (channel, control_id) uniqueness is
# kept by `integration_messagecontrol` (`integration.0004`), as the event log's stream heads.
HL7_MESSAGES = MonthlyLog(
    table="integration_message",
    id="id",
    key="received_at",
    trigger_prefix="hl7_message",
    insert_check="public.mymedic_hl7_message_control",
    append_only=False,
    fixed=("received_at", "channel_id", "control_id"),
    after_delete="public.mymedic_hl7_message_release",
    changed_at="updated",
)
# The outbound SIU outbox (apps.integration.outbound), by the month a message was made: its
# (channel, position) uniqueness, which makes a message once per event and channel, is kept
# by `integration_outboundposition` (`integration.0005`).
HL7_OUTBOUND = MonthlyLog(
    table="integration_outboundmessage",
    id="id",
    key="created",
    trigger_prefix="hl7_outbound",
    insert_check="public.mymedic_hl7_outbound_claim",
    append_only=False,
    fixed=("created", "channel_id", "position"),
    after_delete="public.mymedic_hl7_outbound_release",
    changed_at="updated",
)
AUDIT_TRAIL = MonthlyLog(
    table="audit_auditentry",
    id="id",
    key="at",
    trigger_prefix="audit_entry",
    head_trigger="audit_entry_note_head",
    head_function="public.mymedic_note_audit_head",
)


MONTHLY_LOGS = (EVENT_LOG, AUDIT_TRAIL, HL7_MESSAGES, HL7_OUTBOUND)


@dataclass(frozen=True)
class Partition:
    name: str
    lower: datetime | None  # None: from the beginning (MINVALUE)
    upper: datetime | None  # None: the DEFAULT partition
    is_default: bool


def month_start(moment: datetime | date) -> date:
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC).date()
    return moment.replace(day=1)


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def instant(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def months_ahead(now: datetime | None = None, ahead: int = 2) -> list[date]:
    """The current month and the `ahead` months after it."""
    first = month_start(now or timezone.now())
    return [add_months(first, n) for n in range(ahead + 1)]


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def is_partitioned(cursor: CursorWrapper, table: str) -> bool:
    cursor.execute(
        "SELECT relkind FROM pg_class WHERE oid = to_regclass(quote_ident(current_schema()) "
        "|| '.' || quote_ident(%s))",
        [table],
    )
    row = cursor.fetchone()
    return row is not None and row[0] == "p"


def _bound(text: str) -> datetime | None:
    if text == "MINVALUE":
        return None
    # PostgreSQL writes the offset as "+00"; Python wants "+00:00".
    return datetime.fromisoformat(re.sub(r"([+-]\d\d)$", r"\1:00", text.strip("'")))


def partitions(cursor: CursorWrapper, log: MonthlyLog) -> list[Partition]:
    """The log's partitions in this schema, oldest first, DEFAULT last."""
    cursor.execute(
        """
        SELECT child.relname, pg_get_expr(child.relpartbound, child.oid)
        FROM pg_inherits
        JOIN pg_class AS child ON child.oid = pg_inherits.inhrelid
        WHERE pg_inherits.inhparent = to_regclass(quote_ident(current_schema()) || '.'
                                                 || quote_ident(%s))
        """,
        [log.table],
    )
    found = []
    for name, bound in cursor.fetchall():
        if bound == "DEFAULT":
            found.append(Partition(name, None, None, True))
            continue
        match = _BOUND.search(bound)
        if match is None:  # pragma: no cover - only range partitions are ever made
            raise ValueError(f"unexpected bound of {name}: {bound}")
        found.append(Partition(name, _bound(match[1]), _bound(match[2]), False))
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(found, key=lambda p: (p.is_default, p.upper or far))


def _protect(cursor: CursorWrapper, log: MonthlyLog, table: str) -> None:
    """The append-only triggers, or for a store whose rows change the fixed columns' and
    the delete hook's, and the insert check, of one partition. They are made on each
    partition rather than inherited from the parent: django-tenants' `clone_schema` copies
    every trigger it finds, and would make an inherited one twice."""
    if log.append_only:
        cursor.execute(
            f"CREATE TRIGGER {_q(log.trigger_prefix + '_append_only')} BEFORE UPDATE OR DELETE "
            f"ON {_q(table)} FOR EACH ROW EXECUTE FUNCTION public.mymedic_refuse_change()"
        )
        _refuse_truncate(cursor, log, table)
    if log.fixed:
        columns = ", ".join(f"'{column}'" for column in log.fixed)
        cursor.execute(
            f"CREATE TRIGGER {_q(log.trigger_prefix + '_fixed')} BEFORE UPDATE ON {_q(table)} "
            f"FOR EACH ROW EXECUTE FUNCTION public.mymedic_refuse_fixed_change({columns})"
        )
    if log.after_delete:
        cursor.execute(
            f"CREATE TRIGGER {_q(log.trigger_prefix + '_after_delete')} AFTER DELETE "
            f"ON {_q(table)} FOR EACH ROW EXECUTE FUNCTION {log.after_delete}()"
        )
    if log.insert_check:
        cursor.execute(
            f"CREATE TRIGGER {_q(log.table + '_insert_check')} BEFORE INSERT ON {_q(table)} "
            f"FOR EACH ROW EXECUTE FUNCTION {log.insert_check}()"
        )


def _refuse_truncate(cursor: CursorWrapper, log: MonthlyLog, table: str) -> None:
    cursor.execute(
        f"CREATE TRIGGER {_q(log.trigger_prefix + '_no_truncate')} BEFORE TRUNCATE ON {_q(table)} "
        "FOR EACH STATEMENT EXECUTE FUNCTION public.mymedic_refuse_change()"
    )


def _covered(existing: list[Partition], month: date) -> bool:
    start, end = instant(month), instant(add_months(month, 1))
    return any(
        not p.is_default
        and (p.lower is None or p.lower < end)
        and (p.upper is not None and p.upper > start)
        for p in existing
    )


def ensure_months(log: MonthlyLog, months: Iterable[date]) -> list[str]:
    """Makes the partitions of `months` that no partition covers yet; returns their names.

    Runs in its own transaction under the tenant's append lock, so rows that an insert put in
    the DEFAULT partition meanwhile are moved along with the others."""
    from django.db import transaction

    made = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(APPEND_LOCK, [APPEND_LOCK_CLASS])
        for month in sorted(set(months)):
            if _covered(partitions(cursor, log), month):
                continue
            _make_month(cursor, log, month)
            made.append(log.partition_name(month))
    return made


def ensure_ahead(now: datetime | None = None) -> list[str]:
    """Every monthly log's partitions of this month and the next two (a new tenant's at
    sign-up, then the hourly beat job's); returns the names made."""
    months = months_ahead(now)
    return [name for log in MONTHLY_LOGS for name in ensure_months(log, months)]


def _make_month(cursor: CursorWrapper, log: MonthlyLog, month: date) -> None:
    name, default = log.partition_name(month), log.default_partition
    start, end = instant(month), instant(add_months(month, 1))
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {_q(default)} WHERE {_q(log.key)} >= %s "  # noqa: S608
        f"AND {_q(log.key)} < %s)",
        [start, end],
    )
    if not cursor.fetchone()[0]:
        cursor.execute(
            f"CREATE TABLE {_q(name)} PARTITION OF {_q(log.table)} FOR VALUES FROM (%s) TO (%s)",
            [start, end],
        )
        _protect(cursor, log, name)
        return
    # Rows of the month wait in the DEFAULT partition: move them by detaching it, filling the
    # month and a new DEFAULT from it before they are attached, and dropping the old one. The
    # new tables are filled before they are partitions, so no row trigger sees a row twice.
    moving = f"{default}_moving"
    cursor.execute(f"ALTER TABLE {_q(log.table)} DETACH PARTITION {_q(default)}")
    cursor.execute(f"ALTER TABLE {_q(default)} RENAME TO {_q(moving)}")
    for table, rows in (
        (name, f"{_q(log.key)} >= %s AND {_q(log.key)} < %s"),
        (default, f"NOT ({_q(log.key)} >= %s AND {_q(log.key)} < %s)"),
    ):
        cursor.execute(
            f"CREATE TABLE {_q(table)} (LIKE {_q(log.table)} "
            "INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        cursor.execute(
            f"INSERT INTO {_q(table)} SELECT * FROM {_q(moving)} WHERE {rows}",  # noqa: S608
            [start, end],
        )
    cursor.execute(
        f"ALTER TABLE {_q(log.table)} ATTACH PARTITION {_q(name)} FOR VALUES FROM (%s) TO (%s)",
        [start, end],
    )
    cursor.execute(f"ALTER TABLE {_q(log.table)} ATTACH PARTITION {_q(default)} DEFAULT")
    cursor.execute(f"DROP TABLE {_q(moving)}")
    _protect(cursor, log, name)
    _protect(cursor, log, default)


def detach(cursor: CursorWrapper, log: MonthlyLog, partition: str) -> None:
    """Takes a partition out of the log (its rows leave the log whole, nothing is deleted).

    DETACH … CONCURRENTLY is not allowed while the log has a DEFAULT partition, so this is
    the plain DETACH: a brief ACCESS EXCLUSIVE lock on the parent, no scan."""
    cursor.execute(f"ALTER TABLE {_q(log.table)} DETACH PARTITION {_q(partition)}")


@dataclass
class Conversion:
    rows: int = 0
    prepare_seconds: float = 0.0  # concurrent index builds and validation, writes go on
    swap_seconds: float = 0.0  # the locked swap
    converted: bool = False


def _index_definitions(cursor: CursorWrapper, table: str) -> list[tuple[str, str, bool, bool]]:
    """(name, definition, unique, primary) of each index of `table`."""
    cursor.execute(
        """
        SELECT index.relname, pg_get_indexdef(i.indexrelid), i.indisunique, i.indisprimary
        FROM pg_index AS i
        JOIN pg_class AS index ON index.oid = i.indexrelid
        WHERE i.indrelid = to_regclass(quote_ident(current_schema()) || '.' || quote_ident(%s))
        ORDER BY index.relname
        """,
        [table],
    )
    return [(name, definition, unique, primary) for name, definition, unique, primary in cursor]


def _columns_of(definition: str) -> str:
    """`USING btree (a, b)` → `(a, b)`, expressions included."""
    return definition.split(" USING ", 1)[1].split(" ", 1)[1]


def convert(
    log: MonthlyLog,
    *,
    now: datetime | None = None,
    in_swap: Callable[[CursorWrapper], None] | None = None,
) -> Conversion:
    """Turns this schema's plain `log.table` into the monthly partitioned log (idempotent).

    Outside a transaction (a migration with `atomic = False`) the preparation is CONCURRENT
    and the swap is its own short transaction; inside one (tests) every step is in it.
    `in_swap(cursor)` runs first in the swap, with appends held off (the old table is still
    there under its name)."""
    from django.db import transaction

    result = Conversion()
    online = not connection.in_atomic_block
    concurrently = "CONCURRENTLY" if online else ""
    now = now or timezone.now()
    this_month = month_start(now)
    upper = instant(add_months(this_month, 1))
    with connection.cursor() as cursor:
        if is_partitioned(cursor, log.table):
            return result
        prebuilt = f"{log.table}_pkey_key"
        indexes = [
            index
            for index in _index_definitions(cursor, log.table)
            if index[0] != prebuilt and not index[0].endswith("_plain")
        ]
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {_q(log.table)})")  # noqa: S608
        keep_rows = bool(cursor.fetchone()[0])
        # Indexes the parent will have and the old table lacks: the primary key with the
        # partition key, and a plain index for each unique one without it (the parent may
        # not have those unique).
        wanted = [(prebuilt, f"({_q(log.id)}, {_q(log.key)})", True)]
        for name, definition, unique, primary in indexes:
            if unique and not primary:
                wanted.append((f"{name}_plain", _columns_of(definition), False))
        started = time.monotonic()
        if keep_rows:
            cursor.execute(f"SELECT count(*) FROM {_q(log.table)}")  # noqa: S608
            result.rows = int(cursor.fetchone()[0])
            for name, columns, unique in wanted:
                kind = "UNIQUE INDEX" if unique else "INDEX"
                cursor.execute(
                    f"CREATE {kind} {concurrently} IF NOT EXISTS {_q(name)} "
                    f"ON {_q(log.table)} {columns}"
                )
            check = f"{log.table}_before_partitions"
            cursor.execute(
                f"ALTER TABLE {_q(log.table)} DROP CONSTRAINT IF EXISTS {_q(check)}, "
                f"ADD CONSTRAINT {_q(check)} CHECK ({_q(log.key)} < %s) NOT VALID",
                [upper],
            )
            cursor.execute(f"ALTER TABLE {_q(log.table)} VALIDATE CONSTRAINT {_q(check)}")
        result.prepare_seconds = time.monotonic() - started
        started = time.monotonic()
        with transaction.atomic():
            cursor.execute("SET LOCAL lock_timeout = '10s'")
            cursor.execute(APPEND_LOCK, [APPEND_LOCK_CLASS])
            cursor.execute(f"LOCK TABLE {_q(log.table)} IN ACCESS EXCLUSIVE MODE")
            if in_swap is not None:
                in_swap(cursor)
            _swap(cursor, log, indexes, wanted, keep_rows, upper)
            months = [m for m in months_ahead(now) if not keep_rows or instant(m) >= upper]
            for month in months:
                cursor.execute(
                    f"CREATE TABLE {_q(log.partition_name(month))} PARTITION OF "
                    f"{_q(log.table)} FOR VALUES FROM (%s) TO (%s)",
                    [instant(month), instant(add_months(month, 1))],
                )
                _protect(cursor, log, log.partition_name(month))
            cursor.execute(
                f"CREATE TABLE {_q(log.default_partition)} PARTITION OF {_q(log.table)} DEFAULT"
            )
            _protect(cursor, log, log.default_partition)
        result.swap_seconds = time.monotonic() - started
        result.converted = True
    return result


def _swap(
    cursor: CursorWrapper,
    log: MonthlyLog,
    indexes: list[tuple[str, str, bool, bool]],
    wanted: list[tuple[str, str, bool]],
    keep_rows: bool,
    upper: datetime,
) -> None:
    table, legacy = log.table, f"{log.table}{LEGACY_SUFFIX}"
    # The id sequence moves from the old table's identity column to the parent.
    cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, log.id])
    (old_sequence,) = cursor.fetchone()
    cursor.execute(f"SELECT last_value, is_called FROM {old_sequence}")  # noqa: S608
    last_value, is_called = cursor.fetchone()
    cursor.execute(f"ALTER TABLE {_q(table)} ALTER COLUMN {_q(log.id)} DROP IDENTITY IF EXISTS")
    cursor.execute(f"DROP SEQUENCE IF EXISTS {_q(log.sequence)}")
    cursor.execute(f"CREATE SEQUENCE {_q(log.sequence)}")
    cursor.execute("SELECT setval(%s, %s, %s)", [log.sequence, last_value, is_called])
    for trigger in ("_append_only", "_no_truncate"):
        cursor.execute(f"DROP TRIGGER IF EXISTS {_q(log.trigger_prefix + trigger)} ON {_q(table)}")
    if log.head_trigger:
        cursor.execute(f"DROP TRIGGER IF EXISTS {_q(log.head_trigger)} ON {_q(table)}")
    # Foreign keys are not copied by LIKE: the parent gets the same ones, and ATTACH adopts the
    # old table's (already validated) as its partition's instead of checking every row again.
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        [table],
    )
    foreign_keys = cursor.fetchall()
    cursor.execute(f"ALTER TABLE {_q(table)} RENAME TO {_q(legacy)}")
    # The parent takes the old indexes' names; the old ones keep theirs with a suffix.
    for name, *_ in indexes:
        cursor.execute(f"ALTER INDEX {_q(name)} RENAME TO {_q(name + LEGACY_SUFFIX)}")
    cursor.execute(
        f"CREATE TABLE {_q(table)} (LIKE {_q(legacy)} INCLUDING CONSTRAINTS) "
        f"PARTITION BY RANGE ({_q(log.key)})"
    )
    cursor.execute(
        f"ALTER TABLE {_q(table)} DROP CONSTRAINT IF EXISTS {_q(table + '_before_partitions')}"
    )
    cursor.execute(
        f"ALTER TABLE {_q(table)} ALTER COLUMN {_q(log.id)} "
        f"SET DEFAULT nextval('{log.sequence}'::regclass)"
    )
    cursor.execute(f"ALTER SEQUENCE {_q(log.sequence)} OWNED BY {_q(table)}.{_q(log.id)}")
    cursor.execute(
        f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(table + '_pkey')} "
        f"PRIMARY KEY ({_q(log.id)}, {_q(log.key)})"
    )
    for name, definition, _unique, primary in indexes:
        if primary:
            continue
        # Not unique even where the old one was: it lacks the partition key (see insert_check).
        cursor.execute(f"CREATE INDEX {_q(name)} ON {_q(table)} {_columns_of(definition)}")
    for name, definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} {definition}")
    # Row triggers go on each partition (`_protect`); TRUNCATE and the head note on the parent.
    if log.append_only:
        _refuse_truncate(cursor, log, table)
    if log.head_trigger:
        cursor.execute(
            f"CREATE TRIGGER {_q(log.head_trigger)} AFTER INSERT ON {_q(table)} "
            f"REFERENCING NEW TABLE AS appended FOR EACH STATEMENT "
            f"EXECUTE FUNCTION {log.head_function}()"
        )
    if not keep_rows:
        cursor.execute(f"DROP TABLE {_q(legacy)}")
        return
    # The old table becomes the partition of everything before next month: its validated
    # CHECK implies the bound, so ATTACH does not scan it, and its prebuilt indexes match
    # the parent's (the primary key through the unique (id, key) index).
    old_key = next(name for name, _, _, primary in indexes if primary) + LEGACY_SUFFIX
    cursor.execute(
        f"ALTER TABLE {_q(legacy)} DROP CONSTRAINT {_q(old_key)}, "
        f"ADD CONSTRAINT {_q(legacy + '_pkey')} PRIMARY KEY USING INDEX {_q(wanted[0][0])}"
    )
    cursor.execute(
        f"ALTER TABLE {_q(table)} ATTACH PARTITION {_q(legacy)} FOR VALUES FROM (MINVALUE) TO (%s)",
        [upper],
    )
    _protect(cursor, log, legacy)


def copy_partitioned_foreign_keys(source: str, target: str) -> int:
    """django-tenants' `clone_schema` copies the foreign keys of plain tables only: a schema
    cloned from `source` gets those of its partitioned tables here (each made on the parent,
    so on every partition too; the cloned tables are empty, nothing is scanned). Run in the
    public schema. Returns how many were made."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT rel.relname, con.conname, pg_get_constraintdef(con.oid)
            FROM pg_constraint AS con JOIN pg_class AS rel ON rel.oid = con.conrelid
            WHERE con.contype = 'f' AND rel.relkind = 'p'
              AND rel.relnamespace = to_regnamespace(quote_ident(%s))
              AND NOT EXISTS (
                  SELECT 1 FROM pg_constraint AS made JOIN pg_class AS t ON t.oid = made.conrelid
                  WHERE t.relnamespace = to_regnamespace(quote_ident(%s))
                    AND t.relname = rel.relname AND made.conname = con.conname)
            ORDER BY 1, 2
            """,
            [source, target],
        )
        missing = cursor.fetchall()
        for table, name, definition in missing:
            for written in (_q(source), source):  # PostgreSQL quotes a name only when needed
                definition = definition.replace(
                    f"REFERENCES {written}.", f"REFERENCES {_q(target)}."
                )
            cursor.execute(
                f"ALTER TABLE {_q(target)}.{_q(table)} ADD CONSTRAINT {_q(name)} {definition}"
            )
    return len(missing)
