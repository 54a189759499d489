"""From the event log to the patient: confirmations, notices and reminders, each sent once,
none after a cancellation, re-planned on a reschedule."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from apps.eventstore import replay
from apps.eventstore.projections import catch_up
from apps.notifications import commands as notify
from apps.notifications.backends import FileBackend
from apps.notifications.dispatch import dispatch_due
from apps.notifications.models import Delivery, Notification
from apps.notifications.projections import notifications
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.notifications.conftest import sent_keys


def test_a_booking_plans_a_confirmation_now_and_reminders_24h_and_2h_before(
    doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    catch_up()

    planned = {row.key: row.due_at for row in Notification.objects.filter(voided=False)}

    assert planned == {
        f"appointment-{visit.pk}:confirmation:v1": ist(4, 8),
        f"appointment-{visit.pk}:reminder-1440:v1": ist(4, 10),
        f"appointment-{visit.pk}:reminder-120:v1": ist(5, 8),
    }


def test_each_message_is_sent_once_at_its_time(
    doctor: Doctor, patient: Patient, outbox: FileBackend
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    catch_up()

    dispatch_due()
    dispatch_due()
    with time_machine.travel(ist(4, 10), tick=False):
        dispatch_due()
        dispatch_due()
    with time_machine.travel(ist(5, 8, 1), tick=False):
        dispatch_due()
    with time_machine.travel(ist(5, 9), tick=False):
        dispatch_due()

    assert sent_keys(outbox) == [
        f"appointment-{visit.pk}:confirmation:v1",
        f"appointment-{visit.pk}:reminder-1440:v1",
        f"appointment-{visit.pk}:reminder-120:v1",
    ]
    first = outbox.sent("sms")[0]
    assert first["to"] == "+919812345678"
    assert "Ravi Kumar" in first["body"] and "Dr. Kavita Menon" in first["body"]
    assert "Tue 05 Jan 2027 at 10:00" in first["body"]  # branch time, not UTC
    assert Delivery.objects.filter(status="sent").count() == 3


def test_a_reschedule_voids_the_pending_reminders_and_plans_new_ones(
    doctor: Doctor, patient: Patient, outbox: FileBackend
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    catch_up()
    dispatch_due()
    commands.appointment_reschedule(actor=None, appointment=visit, start=ist(6, 11))
    catch_up()

    live = {row.key: row.due_at for row in Notification.objects.filter(voided=False)}
    for when in (ist(4, 8), ist(4, 10), ist(5, 8), ist(5, 11), ist(6, 9)):
        with time_machine.travel(when, tick=False):
            dispatch_due()

    assert set(Notification.objects.filter(voided=True).values_list("key", flat=True)) == {
        f"appointment-{visit.pk}:reminder-1440:v1",
        f"appointment-{visit.pk}:reminder-120:v1",
    }
    assert live[f"appointment-{visit.pk}:reminder-1440:v2"] == ist(5, 11)
    assert live[f"appointment-{visit.pk}:reminder-120:v2"] == ist(6, 9)
    assert sent_keys(outbox) == [
        f"appointment-{visit.pk}:confirmation:v1",
        f"appointment-{visit.pk}:rescheduled:v2",
        f"appointment-{visit.pk}:reminder-1440:v2",
        f"appointment-{visit.pk}:reminder-120:v2",
    ]
    assert "Wed 06 Jan 2027 at 11:00" in outbox.sent("sms")[1]["body"]


def test_no_reminder_is_sent_after_a_cancellation(
    doctor: Doctor, patient: Patient, outbox: FileBackend
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    catch_up()
    dispatch_due()
    commands.appointment_cancel(actor=None, appointment=visit, reason="travelling")
    catch_up()

    for when in (ist(4, 10), ist(5, 8)):
        with time_machine.travel(when, tick=False):
            dispatch_due()

    assert sent_keys(outbox) == [
        f"appointment-{visit.pk}:confirmation:v1",
        f"appointment-{visit.pk}:cancelled:v2",
    ]
    assert "cancelled" in outbox.sent("sms")[1]["body"]


def test_a_cancellation_the_projection_has_not_seen_yet_still_stops_the_reminder(
    doctor: Doctor, patient: Patient, outbox: FileBackend
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    catch_up()
    dispatch_due()

    with time_machine.travel(ist(4, 10), tick=False):
        commands.appointment_cancel(actor=None, appointment=visit, reason="travelling")
        result = dispatch_due()  # the projection lags: the reminder row is still planned

    assert result.sent == 0 and result.skipped == 1
    assert sent_keys(outbox) == [f"appointment-{visit.pk}:confirmation:v1"]
    skipped = Delivery.objects.get(key=f"appointment-{visit.pk}:reminder-1440:v1")
    assert skipped.status == "skipped"


def test_a_booking_close_to_its_time_plans_no_reminder_in_the_past(
    doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))
    catch_up()

    keys = set(Notification.objects.values_list("key", flat=True))

    assert keys == {f"appointment-{visit.pk}:confirmation:v1"}


def test_reminder_offsets_come_from_the_tenants_settings_at_booking_time(
    doctor: Doctor, patient: Patient
) -> None:
    notify.notification_settings_update(
        actor=None, reminder_offsets=[60], enabled_channels=["sms"], default_channel="sms"
    )
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    catch_up()

    reminders = Notification.objects.filter(kind="reminder")

    assert [(r.key, r.due_at) for r in reminders] == [
        (f"appointment-{visit.pk}:reminder-60:v1", ist(5, 9))
    ]


def test_replaying_the_plan_gives_the_same_rows_and_sends_nothing_again(
    doctor: Doctor, patient: Patient, outbox: FileBackend, tenant: Tenant
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    commands.appointment_reschedule(actor=None, appointment=visit, start=ist(5, 11))
    notify.notification_settings_update(
        actor=None, reminder_offsets=[30], enabled_channels=["sms"], default_channel="sms"
    )
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(6, 10))
    catch_up()
    dispatch_due()
    before = list(Notification.objects.order_by("key").values())

    assert replay.check(notifications) == []
    replay.rebuild(notifications)
    dispatch_due(now=timezone.now() + timedelta(minutes=1))

    assert list(Notification.objects.order_by("key").values()) == before
    # The first confirmation was overtaken by the reschedule notice (skipped, not sent).
    assert len(sent_keys(outbox)) == len(set(sent_keys(outbox))) == 2


def test_one_batch_voids_what_it_planned_itself_and_follows_a_settings_change_inside_it(
    doctor: Doctor, patient: Patient
) -> None:
    # All of it in the log before the projection runs: one batch plans, voids and re-plans.
    moved = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    commands.appointment_reschedule(actor=None, appointment=moved, start=ist(6, 11))
    dropped = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=ist(5, 12)
    )
    commands.appointment_cancel(actor=None, appointment=dropped, reason="travelling")
    notify.notification_settings_update(
        actor=None, reminder_offsets=[60], enabled_channels=["sms"], default_channel="sms"
    )
    later = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(7, 10))
    catch_up()

    voided = set(Notification.objects.filter(voided=True).values_list("key", flat=True))
    live = set(Notification.objects.filter(voided=False).values_list("key", flat=True))

    assert voided == {
        f"appointment-{moved.pk}:reminder-1440:v1",
        f"appointment-{moved.pk}:reminder-120:v1",
        f"appointment-{dropped.pk}:confirmation:v1",
        f"appointment-{dropped.pk}:reminder-1440:v1",
        f"appointment-{dropped.pk}:reminder-120:v1",
    }
    assert live == {
        f"appointment-{moved.pk}:confirmation:v1",
        f"appointment-{moved.pk}:rescheduled:v2",
        f"appointment-{moved.pk}:reminder-1440:v2",
        f"appointment-{moved.pk}:reminder-120:v2",
        f"appointment-{dropped.pk}:cancelled:v2",
        f"appointment-{later.pk}:confirmation:v1",
        f"appointment-{later.pk}:reminder-60:v1",
    }
