"""Outbound SIU: bookings, reschedules and cancellations reach a hospital's system over
MLLP in event order; a NAK is retried with backoff (holding the later messages), and a
message the peer keeps refusing is dead-lettered with an alert."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.integration.commands import channel_add
from apps.integration.models import Channel, OutboundMessage
from apps.integration.outbound import next_send, send_pending
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.integration.fake_his import FakeHis, fake_his

pytestmark = pytest.mark.usefixtures("monday_morning")


def outbound(port: int, max_retries: int = 3) -> Channel:
    return channel_add(
        actor=None, name="City HIS", sending_facility="CITY", direction="outbound",
        host="127.0.0.1", port=port, max_retries=max_retries,
    )  # fmt: skip


def book_move_cancel(doctor: Doctor, patient: Patient) -> int:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    commands.appointment_reschedule(actor=None, appointment=visit, start=ist(5, 10))
    commands.appointment_cancel(actor=None, appointment=visit, reason="Patient called")
    return visit.pk


def kinds(his: FakeHis) -> list[str]:
    return [text.split("\r")[0].split("|")[8] for text in his.received]


def test_siu_leaves_in_event_order_and_a_nak_is_retried_before_anything_after_it(
    tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    with fake_his(["AE", "AA"]) as his:
        channel = outbound(his.port)
        visit = book_move_cancel(doctor, patient)
        assert send_pending() == 0
        assert kinds(his) == ["SIU^S12^SIU_S12"]  # the NAKed booking holds the rest
        first = OutboundMessage.objects.order_by("position").first()
        assert first is not None
        assert (first.status, first.attempts, first.error) == ("pending", 1, "AE: scripted AE")
        assert first.next_attempt_at == timezone.now() + timedelta(seconds=5)
        assert next_send() == first.next_attempt_at
        assert send_pending() == 0  # not due yet

        with time_machine.travel(first.next_attempt_at, tick=False):
            assert send_pending() == 3
    assert kinds(his) == ["SIU^S12^SIU_S12"] * 2 + ["SIU^S13^SIU_S12", "SIU^S15^SIU_S12"]
    booked, moved, cancelled = his.received[1:]
    assert f"SCH|{visit}^MYMEDIC|{visit}^MYMEDIC|" in booked
    assert "^^30^20270105090000+0530^20270105093000+0530" in booked
    assert "^^30^20270105100000+0530^20270105103000+0530" in moved
    assert cancelled.split("\r")[1].endswith("|Cancelled")
    assert f"PID|1||{patient.pk}^^^MYMEDIC^MR||Kumar^Ravi|" in booked
    assert f"AIP|1||{doctor.pk}^Dr. Kavita Menon" in booked
    rows = OutboundMessage.objects.filter(channel=channel).order_by("position")
    assert [(r.status, r.attempts) for r in rows] == [("sent", 2), ("sent", 1), ("sent", 1)]
    assert next_send() is None


def test_a_message_the_peer_keeps_refusing_is_dead_lettered_and_the_next_ones_go(
    tenant: Tenant, doctor: Doctor, patient: Patient, caplog: pytest.LogCaptureFixture
) -> None:
    with fake_his(["AR", "AR", "AA"]) as his:
        outbound(his.port, max_retries=1)
        book_move_cancel(doctor, patient)
        send_pending()
        first = OutboundMessage.objects.order_by("position").first()
        assert first is not None and first.next_attempt_at is not None
        with (
            time_machine.travel(first.next_attempt_at, tick=False),
            caplog.at_level(logging.ERROR, logger="mymedic.integration"),
        ):
            assert send_pending() == 2
    statuses = OutboundMessage.objects.order_by("position").values_list("status", flat=True)
    assert list(statuses) == ["dead", "sent", "sent"]
    assert [r.getMessage().split(" schema=")[0] for r in caplog.records if r.levelno >= 40] == [
        "hl7 outbound dead-lettered"
    ]


def test_a_peer_that_is_down_is_retried_and_history_before_the_channel_is_never_sent(
    tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 11))
    with fake_his(["AA"]) as his:
        port = his.port
    channel = outbound(port)  # nothing listens there any more
    book_move_cancel(doctor, patient)
    assert OutboundMessage.objects.filter(channel=channel).count() == 3  # not the 11:00 one
    assert send_pending() == 0
    first = OutboundMessage.objects.order_by("position").first()
    assert first is not None and first.error.startswith("Connection failed")
