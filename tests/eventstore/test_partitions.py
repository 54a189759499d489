"""The event log and the audit trail are partitioned by month: uniqueness, order and the
append-only rule hold across partitions, and no insert fails for want of a partition."""

from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from apps.core.db import connection
from apps.core.partitions import AUDIT_TRAIL, EVENT_LOG, ensure_months, partitions
from apps.eventstore.models import Event
from apps.tenants.models import Tenant

INSERT = (
    "INSERT INTO eventstore_event (stream, version, type, schema_version, data, metadata, "
    "occurred_at) VALUES (%s, %s, 'Probe', 1, '{}', '{}', %s) RETURNING position"
)


def sql(statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def append(stream: str, version: int, at: datetime) -> int:
    return int(sql(INSERT, [stream, version, at])[0][0])


def home_of(position: int) -> str:
    rows = sql(
        "SELECT tableoid::regclass::text FROM eventstore_event WHERE position = %s", [position]
    )
    return str(rows[0][0])


@pytest.mark.parametrize("log", [EVENT_LOG, AUDIT_TRAIL], ids=["events", "audit"])
def test_each_log_is_a_table_partitioned_by_month_with_a_default_partition(
    tenant: Tenant, log: Any
) -> None:
    with connection.cursor() as cursor:
        found = partitions(cursor, log)
    (kind,) = sql("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [log.table])[0]

    assert kind == "p"
    assert [p.name for p in found if p.is_default] == [log.default_partition]
    for part in (p for p in found if not p.is_default):
        assert part.lower is not None and part.upper is not None
        assert (part.lower.day, part.lower.hour, part.upper.day) == (1, 0, 1)
        assert part.name == log.partition_name(part.lower.date())


@pytest.mark.parametrize("log", [EVENT_LOG, AUDIT_TRAIL], ids=["events", "audit"])
def test_every_partition_carries_the_append_only_triggers(tenant: Tenant, log: Any) -> None:
    ensure_months(log, [date(2031, 1, 1)])
    with connection.cursor() as cursor:
        names = [p.name for p in partitions(cursor, log)]
    rows = sql(
        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE c.relname = ANY(%s) AND c.relnamespace = current_schema()::regnamespace",
        [names],
    )

    expected = {f"{log.trigger_prefix}_append_only", f"{log.trigger_prefix}_no_truncate"}
    for name in names:
        assert expected <= {trigger for table, trigger in rows if table == name}, name


def test_a_duplicate_version_is_refused_when_the_two_land_in_different_months(
    tenant: Tenant,
) -> None:
    ensure_months(EVENT_LOG, [date(2027, 1, 1), date(2027, 2, 1)])
    first = append("probe-1", 1, datetime(2027, 1, 20, tzinfo=UTC))

    with pytest.raises(IntegrityError, match="event_stream_version"), transaction.atomic():
        append("probe-1", 1, datetime(2027, 2, 3, tzinfo=UTC))
    with pytest.raises(IntegrityError), transaction.atomic():
        append("probe-1", 1, datetime(2027, 1, 21, tzinfo=UTC))

    second = append("probe-1", 2, datetime(2027, 2, 3, tzinfo=UTC))
    assert home_of(first) != home_of(second)
    assert list(
        Event.objects.filter(stream="probe-1").order_by("version").values_list("version", flat=True)
    ) == [1, 2]


def test_an_insert_into_a_month_without_a_partition_lands_in_default_and_moves_with_its_month(
    tenant: Tenant,
) -> None:
    far = datetime(2031, 5, 9, tzinfo=UTC)
    position = append("probe-far", 1, far)
    assert home_of(position) == EVENT_LOG.default_partition

    made = ensure_months(EVENT_LOG, [date(2031, 5, 1)])

    assert made == ["eventstore_event_p203105"]
    assert home_of(position) == "eventstore_event_p203105"
    assert not sql(f"SELECT 1 FROM {EVENT_LOG.default_partition}")  # noqa: S608
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        sql("UPDATE eventstore_event SET type = 'X' WHERE position = %s", [position])


def test_updates_deletes_and_truncates_are_refused_on_the_parent_and_every_partition(
    tenant: Tenant,
) -> None:
    ensure_months(EVENT_LOG, [date(2027, 1, 1)])
    position = append("probe-2", 1, datetime(2027, 1, 10, tzinfo=UTC))
    partition = home_of(position)

    for statement in (
        "UPDATE eventstore_event SET type = 'X'",
        "DELETE FROM eventstore_event",
        f"UPDATE {partition} SET type = 'X'",  # noqa: S608  (a partition's name)
        f"DELETE FROM {partition}",  # noqa: S608
        f"TRUNCATE {partition}",
        f"TRUNCATE {EVENT_LOG.default_partition}",
        "TRUNCATE eventstore_event",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            sql(statement)


def test_positions_are_one_order_across_months_and_readers_get_them_in_it(
    tenant: Tenant,
) -> None:
    ensure_months(EVENT_LOG, [date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)])
    head = Event.objects.order_by("-position").values_list("position", flat=True).first() or 0
    months = [datetime(2027, m, 2, tzinfo=UTC) for m in (2, 1, 3, 1)]
    written = [append(f"probe-order-{n}", 1, at) for n, at in enumerate(months)]

    read = list(
        Event.objects.filter(position__gt=head)
        .order_by("position")
        .values_list("stream", flat=True)
    )

    assert written == sorted(written)
    assert read == [f"probe-order-{n}" for n in range(4)]
    assert len({home_of(p) for p in written}) == 3


SCRATCH = "partition_conversion"
INDEXES = "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass"


@pytest.fixture
def plain_log(tenant: Tenant) -> Any:
    """A schema holding the event log as it was before partitioning, with 300 events over
    three months: the table, its constraints, indexes and triggers as migrations 0001–0005
    made them."""
    with connection.schema_editor() as editor:
        editor.execute(f"CREATE SCHEMA {SCRATCH}")
    connection.set_schema(SCRATCH)
    try:
        with connection.schema_editor() as editor:
            editor.create_model(Event)
            editor.execute(
                "CREATE INDEX event_data_date ON eventstore_event ((data->>'date'), type)"
            )
            editor.execute(
                "CREATE TRIGGER eventstore_event_append_only BEFORE UPDATE OR DELETE ON "
                "eventstore_event FOR EACH ROW EXECUTE FUNCTION public.mymedic_refuse_change()"
            )
        sql(
            "INSERT INTO eventstore_event (stream, version, type, schema_version, data, "
            "metadata, occurred_at) SELECT 'probe-' || (g % 100), 1 + g / 100, 'Probe', 1, "
            "'{}', '{}', timestamptz '2026-10-05' + (g / 100) * interval '1 month' "
            "FROM generate_series(0, 299) AS g"
        )
        yield SCRATCH
    finally:
        connection.set_tenant(tenant)


def test_an_existing_log_is_partitioned_in_place_keeping_rows_order_and_versions(
    plain_log: str,
) -> None:
    from importlib import import_module

    migration = import_module("apps.eventstore.migrations.0006_partitioned_by_month")
    before = sql("SELECT position, stream, version FROM eventstore_event ORDER BY position")

    with connection.schema_editor() as editor:
        migration.partition(None, editor)

    with connection.cursor() as cursor:
        found = partitions(cursor, EVENT_LOG)
    legacy = next(p for p in found if p.name == "eventstore_event_legacy")
    after = sql("SELECT position, stream, version FROM eventstore_event ORDER BY position")
    assert after == before
    assert legacy.lower is None and legacy.upper is not None
    assert sql("SELECT count(*) FROM eventstore_event_legacy") == [(300,)]
    # The swap built no index: the parent adopted those made beforehand.
    assert {name for (name,) in sql(INDEXES, ["eventstore_event_legacy"])} == {
        "eventstore_event_legacy_pkey",
        "event_stream_version_legacy",
        "event_stream_version_plain",
        "event_type_position_legacy",
        "event_data_date_legacy",
    }
    # The sequence goes on where the old identity column stopped.
    assert append("probe-new", 1, datetime.now(UTC)) == before[-1][0] + 1
    # Versions already taken by the old rows stay taken, in whatever month.
    with pytest.raises(IntegrityError), transaction.atomic():
        append("probe-7", 3, datetime.now(UTC))
    assert append("probe-7", 4, datetime.now(UTC)) > before[-1][0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        sql("DELETE FROM eventstore_event_legacy")
