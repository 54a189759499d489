"""A front desk for fault tests: a doctor who works all week, free slots, bookings through
the command layer (in the current schema)."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from apps.clinic.models import Branch
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient


def doctor_all_week(name: str) -> Doctor:
    """A doctor of the tenant's branch who works every hour of every day (in this schema)."""
    return commands.doctor_add(
        actor=None, branch=Branch.objects.get(), name=name, specialty="GP", slot_minutes=15,
        consultation_fee=Decimal("300"),
        weekly_hours=[{"weekday": d, "start": "00:00", "end": "23:45"} for d in range(7)],
    )  # fmt: skip


def slots(doctor: Doctor, first_day_offset: int = 2) -> Iterator[datetime]:
    """Free 15-minute starts of the doctor, day after day from a few days ahead."""
    zone = ZoneInfo(Branch.objects.get(pk=doctor.branch_id).timezone)
    day = (timezone.now().astimezone(zone) + timedelta(days=first_day_offset)).date()
    while True:
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        for quarter in range(95):
            yield midnight + timedelta(minutes=15 * quarter)
        day += timedelta(days=1)


def book(doctor: Doctor, patient: Patient, start: datetime) -> Appointment:
    """Books through the command layer; returns once committed (acknowledged)."""
    return commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=start)
