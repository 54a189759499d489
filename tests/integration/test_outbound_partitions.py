"""The outbound SIU store partitioned by the month a message was made: a (channel, position)
is made once whatever the months, the outbox sends in position order across a month
boundary, a status change is written in the message's own month and never moves it, a purge
releases the position, and an existing store is partitioned in place."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from importlib import import_module

import pytest
import time_machine
from django.db import DatabaseError, IntegrityError, transaction
from django.test.utils import CaptureQueriesContext

from apps.core.db import connection
from apps.core.partitions import HL7_OUTBOUND, ensure_months
from apps.eventstore.models import Event
from apps.integration.commands import channel_add
from apps.integration.models import Channel, OutboundMessage
from apps.integration.outbound import plan, send_pending
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.integration.fake_his import fake_his
from tests.integration.partitioned import home_of, months_an_update_scans, partitions_of, sql

pytestmark = pytest.mark.usefixtures("tenant")

JANUARY, FEBRUARY, MARCH = date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)


def make(channel: Channel, position: int, at: datetime) -> OutboundMessage:
    """A message of the outbox as `plan` writes it, made at `at`."""
    with time_machine.travel(at, tick=False):
        control_id = f"MM{position}C{channel.pk}"
        message = OutboundMessage(
            channel=channel,
            position=position,
            appointment_id=position,
            message_type="SIU^S12",
            control_id=control_id,
        )
        message.seal(f"MSH|^~\\&|MYMEDIC|acme|HIS|CITY|||SIU^S12^SIU_S12|{control_id}|P|2.5\r")
        message.save()
    return message


@pytest.fixture
def channel() -> Channel:
    ensure_months(HL7_OUTBOUND, [JANUARY, FEBRUARY, MARCH])
    return channel_add(
        actor=None, name="City HIS", sending_facility="CITY", direction="outbound",
        host="127.0.0.1", port=9, max_retries=3,
    )  # fmt: skip


def test_the_outbox_is_partitioned_by_the_month_a_message_was_made() -> None:
    [(kind, key)] = sql(
        "SELECT c.relkind, pg_get_partkeydef(c.oid) FROM pg_class AS c "
        "WHERE c.oid = 'integration_outboundmessage'::regclass"
    )
    assert (kind, key) == ("p", "RANGE (created)")
    names = {p.name for p in partitions_of(HL7_OUTBOUND)}
    assert "integration_outboundmessage_default" in names


def test_a_position_is_made_once_whatever_the_month(channel: Channel) -> None:
    first = make(channel, 7, datetime(2027, 1, 20, tzinfo=UTC))

    with pytest.raises(IntegrityError, match="hl7_outbound_position"), transaction.atomic():
        make(channel, 7, datetime(2027, 3, 2, tzinfo=UTC))
    later = make(channel, 8, datetime(2027, 3, 2, tzinfo=UTC))

    assert home_of(HL7_OUTBOUND, first) == "integration_outboundmessage_p202701"
    assert home_of(HL7_OUTBOUND, later) == "integration_outboundmessage_p202703"
    assert OutboundMessage.objects.filter(channel=channel, position=7).count() == 1


def test_an_event_planned_again_in_a_later_month_makes_no_second_message(
    monday_morning: time_machine.Coordinates, doctor: Doctor, patient: Patient
) -> None:
    ensure_months(HL7_OUTBOUND, [JANUARY, FEBRUARY, MARCH])
    channel_add(
        actor=None, name="City HIS", sending_facility="CITY", direction="outbound",
        host="127.0.0.1", port=9,
    )  # fmt: skip
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    [made] = OutboundMessage.objects.all()
    event = Event.objects.get(position=made.position)

    monday_morning.move_to(datetime(2027, 2, 15, 9, tzinfo=UTC))
    assert plan(event.type, event.position, event.data) == 0

    assert list(OutboundMessage.objects.filter(position=event.position)) == [made]
    assert home_of(HL7_OUTBOUND, made) == "integration_outboundmessage_p202701"


def test_the_outbox_sends_in_position_order_across_a_month_boundary() -> None:
    ensure_months(HL7_OUTBOUND, [JANUARY, FEBRUARY])
    with fake_his(["AE", "AA"]) as his:
        channel = channel_add(
            actor=None, name="City HIS", sending_facility="CITY", direction="outbound",
            host="127.0.0.1", port=his.port,
        )  # fmt: skip
        # February's message was stored first (a lower id) but comes later in the log.
        february = make(channel, 20, datetime(2027, 2, 1, 0, 0, 5, tzinfo=UTC))
        january = make(channel, 10, datetime(2027, 1, 31, 23, 59, 55, tzinfo=UTC))
        assert february.pk < january.pk
        assert home_of(HL7_OUTBOUND, january) != home_of(HL7_OUTBOUND, february)
        now = datetime(2027, 2, 1, 0, 1, tzinfo=UTC)
        with time_machine.travel(now, tick=False):
            assert send_pending() == 0  # January's is refused and holds February's
            assert send_pending(now=now + timedelta(seconds=5)) == 2

    assert [text.split("\r")[0].split("|")[9] for text in his.received] == [
        january.control_id,
        january.control_id,
        february.control_id,
    ]
    for message in (january, february):
        message.refresh_from_db()
    assert [(m.status, m.attempts) for m in (january, february)] == [("sent", 2), ("sent", 1)]


def test_a_status_change_is_written_in_the_messages_month_and_never_moves_it(
    channel: Channel,
) -> None:
    message = make(channel, 30, datetime(2027, 2, 10, tzinfo=UTC))

    message.status = OutboundMessage.Status.SENT
    with CaptureQueriesContext(connection) as queries:
        message.save()

    [update] = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    # The month in the WHERE (the SET names every column, `created` among them).
    assert '"created" =' in update.split(" WHERE ", 1)[1]
    assert months_an_update_scans(HL7_OUTBOUND, message) == {"integration_outboundmessage_p202702"}
    assert OutboundMessage.objects.get(pk=message.pk).status == OutboundMessage.Status.SENT
    for column, value in (("created", "now()"), ("position", "31"), ("channel_id", "-1")):
        with pytest.raises(DatabaseError, match="never changes"), transaction.atomic():
            sql(
                f"UPDATE integration_outboundmessage SET {column} = {value} WHERE id = %s",  # noqa: S608
                [message.pk],
            )
    assert home_of(HL7_OUTBOUND, message) == "integration_outboundmessage_p202702"


def test_a_purged_message_releases_its_position(channel: Channel) -> None:
    message = make(channel, 40, datetime(2027, 1, 5, tzinfo=UTC))

    OutboundMessage.objects.filter(pk=message.pk).delete()
    again = make(channel, 40, datetime(2027, 2, 5, tzinfo=UTC))

    assert home_of(HL7_OUTBOUND, again) == "integration_outboundmessage_p202702"


SCRATCH = "hl7_outbound_conversion"


@pytest.fixture
def plain_outbox(tenant: Tenant, channel: Channel) -> Iterator[int]:
    """A schema holding the outbox as migrations 0001-0004 made it (a plain table, the unique
    (channel, position) constraint, the foreign key to the tenant's channel table; `updated`
    as 0005 adds it first), with 300 messages over three months. Returns the channel's id."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {SCRATCH}")
    connection.set_schema(SCRATCH)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE integration_outboundmessage "
                f"(LIKE {tenant.schema_name}.integration_outboundmessage_p202701)"
            )
            cursor.execute(
                "ALTER TABLE integration_outboundmessage ALTER COLUMN id ADD GENERATED BY "
                "DEFAULT AS IDENTITY, ADD PRIMARY KEY (id), "
                "ADD CONSTRAINT hl7_outbound_position UNIQUE (channel_id, position), "
                "ADD CONSTRAINT outbound_channel_fk FOREIGN KEY (channel_id) REFERENCES "
                f"{tenant.schema_name}.integration_channel (id) DEFERRABLE INITIALLY DEFERRED"
            )
            cursor.execute(
                "CREATE INDEX hl7_outbound_pending ON integration_outboundmessage "
                "(status, channel_id, position)"
            )
            cursor.execute(
                "INSERT INTO integration_outboundmessage (channel_id, position, appointment_id, "
                "message_type, control_id, status, sealed, key_version, attempts, error, "
                "created, updated) "
                "SELECT %s, 1000 + g, g, 'SIU^S12', 'MM' || g, 'sent', '\\x00', 1, 1, '', "
                "timestamptz '2026-10-05' + (g / 100) * interval '1 month', now() "
                "FROM generate_series(0, 299) AS g",
                [channel.pk],
            )
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        yield channel.pk
    finally:
        connection.set_tenant(tenant)


def test_an_existing_outbox_is_partitioned_in_place_keeping_rows_and_positions(
    plain_outbox: int,
) -> None:
    migration = import_module("apps.integration.migrations.0005_outbound_partitioned_by_month")
    columns = "id, channel_id, position, status, created"
    before = sql(f"SELECT {columns} FROM integration_outboundmessage ORDER BY id")  # noqa: S608

    with connection.schema_editor() as editor:
        migration.partition(None, editor)

    found = {p.name: p for p in partitions_of(HL7_OUTBOUND)}
    assert found["integration_outboundmessage_legacy"].lower is None
    assert "integration_outboundmessage_default" in found
    assert sql(f"SELECT {columns} FROM integration_outboundmessage ORDER BY id") == before  # noqa: S608
    assert sql("SELECT count(*) FROM integration_outboundposition") == [(300,)]
    insert = (
        "INSERT INTO integration_outboundmessage (channel_id, position, appointment_id, "
        "message_type, control_id, status, sealed, key_version, attempts, error, created, "
        "updated) VALUES (%s, %s, 1, 'SIU^S12', 'MMX', 'pending', '\\x00', 1, 0, '', now(), "
        "now()) RETURNING id"
    )
    # The sequence goes on where the old identity column stopped.
    [(new_id,)] = sql(insert, [plain_outbox, 5000])
    assert new_id == before[-1][0] + 1
    # Positions already taken by the old rows stay taken, in whatever month.
    with pytest.raises(IntegrityError, match="hl7_outbound_position"), transaction.atomic():
        sql(insert, [plain_outbox, 1007])
    # The foreign key holds on the parent (and so on every month made later).
    with pytest.raises(IntegrityError), transaction.atomic():
        sql(insert, [-1, 5001])
        sql("SET CONSTRAINTS ALL IMMEDIATE")
