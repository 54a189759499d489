"""Scheduling test data, made through the commands (the models are event-sourced)."""

from datetime import date
from decimal import Decimal
from typing import Any

import factory

from apps.scheduling import commands, waitlist
from apps.scheduling.models import Appointment, Doctor, DoctorLeave, Patient, WaitlistEntry

# Monday to Saturday, 09:00–13:00 and 14:00–17:00: a lunch break from 13:00 to 14:00.
WEEKDAY_HOURS = [
    {"weekday": day, "start": start, "end": end}
    for day in range(6)
    for start, end in (("09:00", "13:00"), ("14:00", "17:00"))
]


class DoctorFactory(factory.Factory):
    class Meta:
        model = Doctor

    name = factory.Sequence(lambda n: f"Dr. Test {n}")
    specialty = "General medicine"
    slot_minutes = 30
    consultation_fee = Decimal("500.00")
    weekly_hours = factory.LazyFunction(lambda: list(WEEKDAY_HOURS))
    user = None

    @classmethod
    def _create(cls, model_class: type[Doctor], **kwargs: Any) -> Doctor:
        return commands.doctor_add(actor=None, **kwargs)


class PatientFactory(factory.Factory):
    class Meta:
        model = Patient

    name = factory.Sequence(lambda n: f"Test Person {n}")
    phone = factory.Sequence(lambda n: f"+9198{n:08d}")
    date_of_birth = None
    branch = None

    @classmethod
    def _create(cls, model_class: type[Patient], **kwargs: Any) -> Patient:
        return commands.patient_register(actor=None, **kwargs)


class AppointmentFactory(factory.Factory):
    """A visit booked by the system (no duplicate check): give `doctor` and `start`."""

    class Meta:
        model = Appointment

    patient = factory.SubFactory(PatientFactory)

    @classmethod
    def _create(cls, model_class: type[Appointment], **kwargs: Any) -> Appointment:
        return commands.appointment_book(actor=None, **kwargs)


class DoctorLeaveFactory(factory.Factory):
    """Leave of `doctor` from `start_date` to `end_date` (one day unless told)."""

    class Meta:
        model = DoctorLeave

    start_date = date(2027, 1, 5)
    end_date = factory.SelfAttribute("start_date")
    reason = ""

    @classmethod
    def _create(cls, model_class: type[DoctorLeave], **kwargs: Any) -> DoctorLeave:
        return commands.doctor_leave_grant(actor=None, **kwargs)


class WaitlistEntryFactory(factory.Factory):
    """A patient waiting for `doctor` on `day`."""

    class Meta:
        model = WaitlistEntry

    patient = factory.SubFactory(PatientFactory)

    @classmethod
    def _create(cls, model_class: type[WaitlistEntry], **kwargs: Any) -> WaitlistEntry:
        return waitlist.waitlist_join(actor=None, **kwargs)
