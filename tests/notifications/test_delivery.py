"""Delivery: retries with exponential backoff, the dead-letter list, a person's retry,
stuck sends, channels and wording per language."""

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.eventstore.projections import catch_up
from apps.notifications import commands as notify
from apps.notifications.backends import FileBackend
from apps.notifications.dispatch import UNKNOWN_OUTCOME, dispatch_due
from apps.notifications.models import Delivery
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from tests.clock import ist
from tests.notifications.backends import FlakyBackend
from tests.notifications.conftest import sent_keys
from tests.notifications.factories import MessageTemplateFactory, NotificationFactory
from tests.scheduling.factories import PatientFactory


@pytest.fixture
def confirmation(doctor: Doctor, patient: Patient) -> str:
    return NotificationFactory(doctor=doctor, patient=patient, start=ist(5, 10)).key


def test_failures_retry_with_exponential_backoff_then_land_in_the_dead_letter_list(
    confirmation: str, flaky: type[FlakyBackend], settings: Any
) -> None:
    settings.MYMEDIC_NOTIFY_MAX_ATTEMPTS = 3
    settings.MYMEDIC_NOTIFY_RETRY_BASE_SECONDS = 60
    flaky.failures = 99
    start = timezone.now()

    dispatch_due()
    row = Delivery.objects.get(key=confirmation)
    first_retry = start + timedelta(seconds=60)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, first_retry)
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        assert dispatch_due().retried == 0  # not yet due
    with time_machine.travel(start + timedelta(seconds=60), tick=False):
        dispatch_due()
    row.refresh_from_db()
    assert (row.attempts, row.next_attempt_at) == (2, start + timedelta(seconds=180))
    with time_machine.travel(start + timedelta(seconds=180), tick=False):
        dispatch_due()

    row.refresh_from_db()
    assert row.status == "dead" and row.attempts == 3
    assert row.last_error == "gave up after 3 attempts: provider answered 503"
    assert flaky.calls == 3


def test_a_person_retries_a_dead_letter_and_it_is_sent(
    confirmation: str, flaky: type[FlakyBackend], tmp_path: Any, owner: Any
) -> None:
    flaky.failures, flaky.permanent = 1, True
    dispatch_due()
    row = Delivery.objects.get(key=confirmation)
    assert row.status == "dead" and row.last_error.startswith("refused")

    notify.delivery_retry(actor=owner, delivery=row)
    dispatch_due()

    row.refresh_from_db()
    assert row.status == "sent"
    assert sent_keys(FileBackend(tmp_path)) == [confirmation]
    assert AuditEntry.objects.filter(action="notification.retry", target=f"delivery:{row.pk}")


def test_a_row_left_sending_is_never_sent_again_but_dead_lettered_as_unknown(
    confirmation: str, outbox: FileBackend, settings: Any
) -> None:
    dispatch_due(limit=0)  # creates the outbox row, claims nothing
    Delivery.objects.filter(key=confirmation).update(
        status="sending", claimed_at=timezone.now(), attempts=1
    )  # a sender that died after claiming

    dispatch_due()
    assert Delivery.objects.get(key=confirmation).status == "sending"  # maybe still busy
    later = timezone.now() + timedelta(seconds=settings.MYMEDIC_NOTIFY_STUCK_SECONDS + 1)
    result = dispatch_due(now=later)

    row = Delivery.objects.get(key=confirmation)
    assert result.dead == 1 and result.sent == 0
    assert (row.status, row.last_error) == ("dead", UNKNOWN_OUTCOME)
    assert sent_keys(outbox) == []


def test_a_hindi_speaking_patient_gets_the_hindi_message(
    doctor: Doctor, outbox: FileBackend
) -> None:
    hindi = PatientFactory(name="Sunita Devi", phone="+919811100022", language="hi")
    NotificationFactory(doctor=doctor, patient=hindi, start=ist(5, 10))

    dispatch_due()

    body = outbox.sent("sms")[0]["body"]
    assert body == (
        "नमस्ते Sunita Devi, Main branch में Dr. Kavita Menon के साथ आपकी अपॉइंटमेंट "
        "05/01/2027 को 10:00 बजे बुक हो गई है।"
    )


def test_a_hindi_speaking_patient_is_reminded_moved_and_told_of_the_cancellation_in_hindi(
    doctor: Doctor, outbox: FileBackend
) -> None:
    hindi = PatientFactory(name="Sunita Devi", phone="+919811100022", language="hi")
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=hindi, start=ist(5, 10))
    catch_up()
    with time_machine.travel(ist(4, 10), tick=False):
        dispatch_due()
        moved = commands.appointment_reschedule(actor=None, appointment=visit, start=ist(6, 11))
        catch_up()
        dispatch_due()
        commands.appointment_cancel(actor=None, appointment=moved, reason="travelling")
        catch_up()
        dispatch_due()

    assert [sms["body"] for sms in outbox.sent("sms")] == [
        "नमस्ते Sunita Devi, Main branch में Dr. Kavita Menon के साथ आपकी अपॉइंटमेंट "
        "05/01/2027 को 10:00 बजे बुक हो गई है।",
        "याद दिलाना: Sunita Devi, 05/01/2027 को 10:00 बजे Main branch में Dr. Kavita Menon "
        "के साथ आपकी अपॉइंटमेंट है।",
        "नमस्ते Sunita Devi, Dr. Kavita Menon के साथ आपकी अपॉइंटमेंट अब 06/01/2027 को 11:00 "
        "बजे है (Main branch)।",
        "नमस्ते Sunita Devi, 06/01/2027 को 11:00 बजे Dr. Kavita Menon के साथ आपकी "
        "अपॉइंटमेंट रद्द कर दी गई है।",
    ]


def test_the_english_default_wording(confirmation: str, outbox: FileBackend) -> None:
    dispatch_due()

    assert outbox.sent("sms")[0]["body"] == (
        "Hello Ravi Kumar, your appointment with Dr. Kavita Menon at Main branch is booked "
        "for Tue 05 Jan 2027 at 10:00."
    )


def test_a_tenants_own_template_replaces_the_default(
    confirmation: str, outbox: FileBackend
) -> None:
    MessageTemplateFactory(kind="confirmation", body="{{ patient_name }}: {{ date }} {{ time }} ok")

    dispatch_due()

    assert outbox.sent("sms")[0]["body"] == "Ravi Kumar: Tue 05 Jan 2027 10:00 ok"


def test_email_is_used_when_it_is_the_default_and_the_patient_has_an_address(
    doctor: Doctor, outbox: FileBackend
) -> None:
    notify.notification_settings_update(
        actor=None,
        reminder_offsets=[1440],
        enabled_channels=["sms", "email"],
        default_channel="email",
    )
    with_email = PatientFactory(email="asha@example.com")
    without = PatientFactory()
    for person, hour in ((with_email, 10), (without, 11)):
        NotificationFactory(doctor=doctor, patient=person, start=ist(5, hour))

    dispatch_due()

    [email] = outbox.sent("email")
    assert email["to"] == "asha@example.com"
    assert email["subject"] == "Your appointment is booked"
    assert [m["to"] for m in outbox.sent("sms")] == [without.phone]


def test_settings_refuse_a_default_channel_that_is_not_enabled() -> None:
    from apps.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        notify.notification_settings_update(
            actor=None, reminder_offsets=[60], enabled_channels=["sms"], default_channel="email"
        )


def test_a_provider_that_fails_costs_a_run_one_attempt_and_the_other_messages_wait(
    doctor: Doctor, patient: Patient, flaky: type[FlakyBackend], settings: Any
) -> None:
    settings.MYMEDIC_NOTIFY_RETRY_BASE_SECONDS = 60
    visits = [
        commands.appointment_book(actor=None, doctor=doctor, patient=someone, start=ist(5, hour))
        for hour, someone in ((10, patient), (11, PatientFactory()), (12, PatientFactory()))
    ]
    catch_up()
    flaky.failures = 99  # down, or hanging until its timeout: every call is a transient failure
    start = timezone.now()

    result = dispatch_due()

    assert (flaky.calls, result.retried, result.deferred, result.sent) == (1, 1, 2, 0)
    rows = Delivery.objects.filter(appointment_id__in=[v.pk for v in visits])
    assert sorted(row.attempts for row in rows) == [0, 0, 1]  # the waiting ones were not tried
    assert {row.status for row in rows} == {"pending"}
    flaky.failures = 0
    with time_machine.travel(start + timedelta(seconds=60), tick=False):
        assert dispatch_due().sent == 3
