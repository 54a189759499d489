"""The queue's tests run on the suite's frozen Monday morning, with a doctor who signs in."""

from collections.abc import Callable

import pytest
import time_machine

from apps.clinic.commands import staff_create
from apps.clinic.models import Branch, User
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient
from tests.clock import ist
from tests.scheduling.factories import AppointmentFactory, DoctorFactory, PatientFactory

PASSWORD = "queue-doctor-password-1"


@pytest.fixture(autouse=True)
def on_monday_morning(monday_morning: time_machine.Coordinates) -> None:
    """Every test here runs on the suite's frozen Monday morning (`tests/conftest.py`)."""


@pytest.fixture
def doctor_user(main_branch: Branch) -> User:
    return staff_create(
        actor=None,
        name="Neha Joshi",
        email="neha@acme.example.com",
        password=PASSWORD,
        role="doctor",
        branches=[main_branch],
    )


@pytest.fixture
def my_doctor(main_branch: Branch, doctor_user: User) -> Doctor:
    return DoctorFactory(branch=main_branch, name="Dr. Neha Joshi", user=doctor_user)


CheckIn = Callable[..., Appointment]


@pytest.fixture
def checked_in() -> CheckIn:
    """Books `doctor` at `hour`:`minute` today for a new patient and checks the visit in
    (the clock stays where the test left it: the check-in event's time)."""

    def make(
        doctor: Doctor, hour: int, minute: int = 0, patient: Patient | None = None
    ) -> Appointment:
        booked = AppointmentFactory(
            doctor=doctor, patient=patient or PatientFactory(), start=ist(4, hour, minute)
        )
        # The desk's clock says the visit is due (check-in opens two hours before).
        return commands.appointment_check_in(actor=None, appointment=booked, now=booked.start)

    return make
