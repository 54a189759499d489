"""Reminder times around Europe/Berlin's clock changes (2027: 28 March, 31 October).

Rule: whole-day offsets keep the wall-clock time (the day before at the same time), shorter
offsets are elapsed time; a skipped wall-clock time moves forward by the gap."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

from apps.eventstore.projections import catch_up
from apps.notifications.models import Notification
from apps.notifications.timing import reminder_due
from apps.scheduling import commands
from apps.scheduling.models import Patient
from tests.clinic.factories import BranchFactory
from tests.scheduling.factories import DoctorFactory

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=BERLIN)


def test_the_day_before_across_spring_forward_is_the_same_wall_clock_time_23h_earlier() -> None:
    start = berlin(3, 28, 9)  # Sunday, CEST (the clocks went forward at 02:00)

    due = reminder_due(start, 24 * 60, BERLIN)

    assert due == berlin(3, 27, 9)  # Saturday 09:00 CET
    assert start - due == timedelta(hours=23)


def test_the_day_before_across_fall_back_is_25h_earlier() -> None:
    start = berlin(10, 31, 9)  # Sunday, CET (the clocks went back at 03:00)

    due = reminder_due(start, 24 * 60, BERLIN)

    assert due == berlin(10, 30, 9)  # Saturday 09:00 CEST
    assert start - due == timedelta(hours=25)


def test_two_hours_before_is_two_real_hours_across_a_change() -> None:
    start = berlin(3, 28, 3, 30)  # 01:30 UTC, half an hour after the jump

    due = reminder_due(start, 120, BERLIN)

    assert due == datetime(2027, 3, 27, 23, 30, tzinfo=UTC)  # 00:30 CET on the wall clock
    assert start - due == timedelta(hours=2)


def test_a_wall_clock_time_the_change_skips_moves_forward_by_the_gap() -> None:
    start = berlin(3, 29, 2, 30)  # Monday 02:30 CEST; Sunday 02:30 never happened

    due = reminder_due(start, 24 * 60, BERLIN)

    assert due == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # 03:30 CEST
    assert due.astimezone(BERLIN).strftime("%H:%M") == "03:30"


def test_a_wall_clock_time_that_happens_twice_is_the_first_of_the_two() -> None:
    start = berlin(11, 1, 2, 30)  # Monday; Sunday 02:30 happened in CEST and again in CET

    due = reminder_due(start, 24 * 60, BERLIN)

    assert due == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # 02:30 CEST


def test_a_berlin_branch_plans_its_reminders_on_its_own_clock(patient: Patient) -> None:
    branch = BranchFactory(name="Berlin Mitte", timezone="Europe/Berlin")
    sunday_hours = [{"weekday": 6, "start": "08:00", "end": "12:00"}]
    doctor = DoctorFactory(branch=branch, weekly_hours=sunday_hours)
    with time_machine.travel(berlin(3, 20, 12), tick=False):
        visit = commands.appointment_book(
            actor=None, doctor=doctor, patient=patient, start=berlin(3, 28, 9)
        )
        catch_up()

    due = dict(Notification.objects.filter(kind="reminder").values_list("key", "due_at"))

    assert due == {
        f"appointment-{visit.pk}:reminder-1440:v1": berlin(3, 27, 9),
        f"appointment-{visit.pk}:reminder-120:v1": berlin(3, 28, 7),
    }
