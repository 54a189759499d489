"""The outbound SIU store's months past the HL7 retention leave for verified files once none
of their messages is pending; a month whose message is pending, or went back to pending
while it was exported, stays whole."""

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from apps.archive import commands as archive
from apps.core.db import connection
from apps.core.errors import Conflict
from apps.core.partitions import HL7_OUTBOUND, ensure_months, partitions
from apps.eventstore import archivefiles
from apps.eventstore.models import ArchivedPartition
from apps.integration.commands import channel_add
from apps.integration.models import Channel, OutboundMessage
from apps.integration.outbound import send_again
from tests.integration.test_outbound_partitions import make, sql

pytestmark = pytest.mark.usefixtures("tenant")

# March 1st is then the HL7 stores' cutoff (90 days). The archive runs then, after every
# row was last changed.
JUNE = datetime(2027, 6, 2, tzinfo=UTC)


@pytest.fixture(autouse=True)
def archive_dir(tmp_path: Path, settings: Any) -> Path:
    settings.MYMEDIC_ARCHIVE_DIR = str(tmp_path / "archive")
    return tmp_path / "archive"


@pytest.fixture
def channel() -> Channel:
    ensure_months(HL7_OUTBOUND, [date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)])
    return channel_add(
        actor=None, name="City HIS", sending_facility="CITY", direction="outbound",
        host="127.0.0.1", port=9,
    )  # fmt: skip


def made(channel: Channel, position: int, day: date, status: str) -> OutboundMessage:
    """A message made at 09:00 UTC on `day` and given `status` an hour later (so every row is
    last changed long before the archive runs, whatever the date the suite runs on)."""
    at = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    message = make(channel, position, at)
    if status != OutboundMessage.Status.PENDING:
        with time_machine.travel(at + timedelta(hours=1), tick=False):
            message.status = status
            message.save()
    return message


def committed() -> None:
    """These rows were made in the test's own transaction; in a real archive they were
    committed months before. Their deferred foreign keys are checked now, as that commit did,
    or PostgreSQL refuses to drop a partition with checks still pending."""
    sql("SET CONSTRAINTS ALL IMMEDIATE")


def live() -> set[str]:
    with connection.cursor() as cursor:
        return {p.name for p in partitions(cursor, HL7_OUTBOUND)}


def test_an_old_month_leaves_for_a_checked_file_and_one_with_a_pending_message_stays(
    channel: Channel, archive_dir: Path
) -> None:
    january = [
        made(channel, 10, date(2027, 1, 5), "sent"),
        made(channel, 11, date(2027, 1, 6), "dead"),
        made(channel, 12, date(2027, 1, 30), "sent"),
    ]
    february = [
        made(channel, 20, date(2027, 2, 3), "sent"),
        made(channel, 21, date(2027, 2, 4), "pending"),
    ]
    committed()

    with time_machine.travel(JUNE, tick=False):
        done = archive.logs_archive(actor=None)

    archived = {a.partition: a.rows for a in done}
    assert archived["integration_outboundmessage_p202701"] == 3
    assert "integration_outboundmessage_p202702" not in archived
    assert "integration_outboundmessage_p202701" not in live()
    assert "integration_outboundmessage_p202702" in live()  # its pending message keeps it
    record = ArchivedPartition.objects.get(partition="integration_outboundmessage_p202701")
    path = Path(record.path)
    assert path == archivefiles.data_path(
        connection.schema_name, HL7_OUTBOUND.table, record.partition
    )  # noqa: E501
    assert path.is_relative_to(archive_dir)
    assert record.sha256 == archivefiles.file_sha256(path)
    assert archivefiles.read_manifest(path)["sha256"] == record.sha256
    rows = list(archivefiles.read_rows(path))
    assert [(r["id"], r["position"], r["status"]) for r in rows] == [
        (m.pk, m.position, m.status) for m in january
    ]
    # The file holds each message sealed as stored, never its text in clear.
    assert all("MSH|" not in str(r["sealed"]) for r in rows)
    # February's messages are where they were, the pending one still to be sent.
    kept = OutboundMessage.objects.order_by("position").values_list("position", "status")
    assert list(kept) == [(20, "sent"), (21, "pending")]
    assert [m.pk for m in february] == list(OutboundMessage.objects.values_list("pk", flat=True))
    # The archived messages released their positions; the kept ones hold theirs.
    assert sql("SELECT position FROM integration_outboundposition ORDER BY 1") == [(20,), (21,)]


def test_a_month_is_not_dropped_while_it_holds_a_pending_message(channel: Channel) -> None:
    made(channel, 30, date(2027, 1, 5), "sent")
    made(channel, 31, date(2027, 1, 6), "pending")
    committed()
    with connection.cursor() as cursor:
        january = next(p for p in partitions(cursor, HL7_OUTBOUND) if p.name.endswith("_p202701"))

    # Asked for it directly (the run itself passes over such a month), the archive exports
    # it but refuses to drop it.
    with (
        time_machine.travel(JUNE, tick=False),
        pytest.raises(Conflict, match="nothing was dropped"),
    ):
        archive.archive_partition(HL7_OUTBOUND, january, actor=None)

    assert "integration_outboundmessage_p202701" in live()
    assert OutboundMessage.objects.count() == 2
    assert not ArchivedPartition.objects.filter(partition=january.name).exists()


def test_a_dead_letter_sent_again_under_the_export_keeps_its_month(
    channel: Channel, settings: Any
) -> None:
    settings.MYMEDIC_ARCHIVE_CHUNK_ROWS = 1
    dead = made(channel, 40, date(2027, 1, 5), "dead")
    made(channel, 41, date(2027, 1, 6), "sent")
    committed()

    # The first step stops after one chunk (its deadline has passed): the dead letter is in
    # the file as dead.
    with time_machine.travel(JUNE, tick=False):
        first = archive.logs_archive(actor=None, deadline=time.monotonic())[-1]
    assert (first.partition, first.finished) == ("integration_outboundmessage_p202701", False)
    assert first.rows == 1
    # Then a person sends it again and the peer takes it: settled still, but changed.
    with time_machine.travel(JUNE + timedelta(hours=1), tick=False):
        send_again(dead)
        dead.status = OutboundMessage.Status.SENT
        dead.save()
        with connection.cursor() as cursor:
            january = next(
                p for p in partitions(cursor, HL7_OUTBOUND) if p.name.endswith("_p202701")
            )

        with pytest.raises(Conflict, match="nothing was dropped"):
            archive.archive_partition(HL7_OUTBOUND, january, actor=None)

    assert "integration_outboundmessage_p202701" in live()
    assert OutboundMessage.objects.get(pk=dead.pk).status == OutboundMessage.Status.SENT


def test_an_outbound_month_older_than_the_other_logs_brings_the_archive_due(
    channel: Channel,
) -> None:
    ensure_months(HL7_OUTBOUND, [date(2026, 9, 1)])

    due = archive.next_archive_due()

    assert due == datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days=90)
