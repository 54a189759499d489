"""The platform's phone channels carry a tenant's messages only to its region's numbers and
only up to a daily quota (security issue: no free SMS to the world)."""

from typing import Any

from apps.eventstore.projections import catch_up
from apps.notifications.backends import FileBackend
from apps.notifications.dispatch import dispatch_due
from apps.notifications.models import DailySendCount, Delivery
from apps.scheduling import commands
from apps.scheduling.models import Doctor
from tests.clock import ist
from tests.scheduling.factories import PatientFactory


def book(doctor: Doctor, phone: str, hour: int) -> str:
    patient = PatientFactory(phone=phone)
    visit = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=ist(5, hour)
    )
    return f"appointment-{visit.pk}:confirmation:v1"


def test_a_number_outside_the_clinics_region_is_never_messaged(
    doctor: Doctor, outbox: FileBackend
) -> None:
    abroad = book(doctor, "+447700900123", 10)
    home = book(doctor, "+919812300001", 11)
    catch_up()

    dispatch_due()

    refused = Delivery.objects.get(key=abroad)
    assert refused.status == "dead"
    assert "only to numbers of the clinic's region (in)" in refused.last_error
    assert [m["to"] for m in outbox.sent("sms")] == ["+919812300001"]
    assert Delivery.objects.get(key=home).status == "sent"


def test_messages_past_the_daily_quota_wait_and_are_not_sent(
    doctor: Doctor, outbox: FileBackend, settings: Any
) -> None:
    settings.MYMEDIC_MESSAGE_DAILY_QUOTA = 2
    keys = [book(doctor, f"+91981230010{n}", 9 + n) for n in range(3)]
    catch_up()

    dispatch_due()

    statuses = [Delivery.objects.get(key=key).status for key in keys]
    assert sorted(statuses) == ["pending", "sent", "sent"]
    waiting = Delivery.objects.get(key=keys[statuses.index("pending")])
    assert "daily SMS quota (2) is used up" in waiting.last_error
    assert len(outbox.sent("sms")) == 2
    assert DailySendCount.objects.get(channel="sms").count == 3
