"""Free-slot computation: a doctor's grid for a day, minus leave, closures, bookings and
slots held for a waitlisted patient (free only for that patient).

All arithmetic is on UTC instants, so a slot always lasts its real length, also across a
daylight-saving change; dates are the branch's local dates.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.scheduling.hours import day_intervals
from apps.scheduling.models import (
    Appointment,
    BranchClosure,
    Doctor,
    DoctorLeave,
    Patient,
    SlotHold,
)


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime


def branch_zone(doctor: Doctor) -> ZoneInfo:
    return ZoneInfo(doctor.branch.timezone)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


# One round trip on the booking path; built once from the models' tables.
_DAY_OFF_SQL = (
    f"SELECT EXISTS (SELECT 1 FROM {DoctorLeave._meta.db_table}"  # noqa: S608  (our own tables)
    "  WHERE doctor_id = %s AND start_date <= %s AND end_date >= %s AND NOT removed)"
    f" OR EXISTS (SELECT 1 FROM {BranchClosure._meta.db_table}"
    "  WHERE branch_id = %s AND date = %s AND NOT removed)"
)


def is_day_off(doctor: Doctor, day: date) -> bool:
    """Whether the doctor is on leave or the branch is closed on `day`."""
    with connection.cursor() as cursor:
        cursor.execute(_DAY_OFF_SQL, [doctor.pk, day, day, doctor.branch_id, day])
        (day_off,) = cursor.fetchone()
    return bool(day_off)


def slot_grid(doctor: Doctor, day: date) -> list[Slot]:
    """Every slot of the doctor's working hours on `day`, booked or not."""
    if not doctor.active or is_day_off(doctor, day):
        return []
    length = timedelta(minutes=doctor.slot_minutes)
    slots = []
    for start, end in day_intervals(doctor.weekly_hours, day, branch_zone(doctor)):
        cursor = start
        while cursor + length <= end:
            slots.append(Slot(cursor, cursor + length))
            cursor += length
    return slots


def live_holds(
    doctor: Doctor,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    patient: Patient | None = None,
) -> QuerySet[SlotHold]:
    """Unexpired holds on the doctor's time within [start, end) kept for someone else."""
    holds = SlotHold.objects.filter(
        doctor=doctor,
        status=SlotHold.Status.LIVE,
        expires_at__gt=now,
        start__lt=end,
        end__gt=start,
    )
    if patient is not None:
        holds = holds.exclude(patient=patient)
    return holds


_HOLDERS_SQL = (
    f"SELECT ARRAY(SELECT patient_id FROM {SlotHold._meta.db_table}"  # noqa: S608  (our table)
    '  WHERE doctor_id = %s AND status = %s AND expires_at > %s AND start < %s AND "end" > %s)'
)


@dataclass(frozen=True)
class SlotCheck:
    """What the booking path needs to know of one slot, learnt in one round trip."""

    slot: Slot | None  # None: not a slot of the doctor's grid that day (or a day off)
    holders: frozenset[int]  # patients holding (part of) the slot through a waitlist offer


def check_slot_at(doctor: Doctor, start: datetime, now: datetime) -> SlotCheck:
    """The grid slot that begins exactly at `start` and who holds it; without building the
    whole day (the same grid as `slot_grid`)."""
    if not doctor.active:
        return SlotCheck(None, frozenset())
    zone = branch_zone(doctor)
    day = local_date(start, zone)
    length = timedelta(minutes=doctor.slot_minutes)
    for begin, end in day_intervals(doctor.weekly_hours, day, zone):
        if begin <= start and start + length <= end and (start - begin) % length == timedelta():
            slot = Slot(start, start + length)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"{_DAY_OFF_SQL}, ({_HOLDERS_SQL})",
                    (doctor.pk, day, day, doctor.branch_id, day)
                    + (doctor.pk, str(SlotHold.Status.LIVE), now, slot.end, slot.start),
                )
                day_off, holders = cursor.fetchone()
            return SlotCheck(None if day_off else slot, frozenset(holders))
    return SlotCheck(None, frozenset())


def free_slots(
    doctor: Doctor,
    day: date,
    *,
    now: datetime | None = None,
    ignoring: Appointment | None = None,
    patient: Patient | None = None,
) -> list[Slot]:
    """Slots of `day` that have not started yet and overlap no appointment holding time nor a
    live hold for a patient other than `patient`."""
    now = now or timezone.now()
    grid = [slot for slot in slot_grid(doctor, day) if slot.start > now]
    if not grid:
        return []
    taken = Appointment.objects.filter(
        doctor=doctor,
        status__in=Appointment.HOLDING,
        start__lt=grid[-1].end,
        end__gt=grid[0].start,
    )
    if ignoring is not None:
        taken = taken.filter(~Q(pk=ignoring.pk))
    busy = list(taken.values_list("start", "end"))
    busy += live_holds(doctor, grid[0].start, grid[-1].end, now=now, patient=patient).values_list(
        "start", "end"
    )
    return [
        slot
        for slot in grid
        if not any(start < slot.end and slot.start < end for start, end in busy)
    ]
