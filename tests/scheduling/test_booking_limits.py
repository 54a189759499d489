"""How far ahead and how much may be booked (security issue: no bookings a century ahead, no
patient holding unlimited slots)."""

from datetime import datetime, time, timedelta

import pytest

from apps.clinic.models import User
from apps.core.errors import Conflict, InvalidInput
from apps.scheduling import commands
from apps.scheduling.actors import PatientActor
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.clock import IST, MONDAY, ist
from tests.conftest import client_for


def monday_in(weeks: int, hour: int = 10) -> datetime:
    """10:00 on a Monday `weeks` weeks after the suite's Monday (the doctor works then)."""
    return datetime.combine(MONDAY + timedelta(weeks=weeks), time(hour), tzinfo=IST)


def test_nobody_books_past_the_horizon(owner: User, doctor: Doctor, patient: Patient) -> None:
    within = commands.appointment_book(
        actor=owner, doctor=doctor, patient=patient, start=monday_in(52)
    )

    with pytest.raises(Conflict, match="at most 365 days ahead"):
        commands.appointment_book(actor=owner, doctor=doctor, patient=patient, start=monday_in(53))
    assert within.pk


def test_the_horizon_is_the_tenants_and_holds_for_moves_too(
    owner: User, doctor: Doctor, patient: Patient
) -> None:
    commands.scheduling_settings_update(
        actor=owner,
        check_in_opens_minutes=120,
        no_show_grace_minutes=15,
        booking_horizon_days=60,
    )
    visit = commands.appointment_book(
        actor=owner, doctor=doctor, patient=patient, start=monday_in(8)
    )

    with pytest.raises(Conflict, match="at most 60 days ahead"):
        commands.appointment_book(actor=owner, doctor=doctor, patient=patient, start=monday_in(9))
    with pytest.raises(Conflict, match="at most 60 days ahead"):
        commands.appointment_reschedule(actor=owner, appointment=visit, start=monday_in(10))


def test_the_api_answers_409_for_a_booking_past_the_horizon(
    tenant: Tenant, owner: User, doctor: Doctor, patient: Patient
) -> None:
    response = client_for(owner, tenant).post(
        "/api/v1/appointments/",
        {"doctor": doctor.pk, "patient": patient.pk, "start": monday_in(104).isoformat()},
        format="json",
    )

    assert response.status_code == 409
    assert "days ahead" in response.json()["detail"]


def test_a_patient_holds_a_bounded_number_of_upcoming_visits_the_desk_does_not(
    owner: User, doctor: Doctor, patient: Patient
) -> None:
    me = PatientActor(patient.pk)
    for week in range(5):
        commands.appointment_book(
            actor=me, doctor=doctor, patient=patient, start=monday_in(week + 1)
        )

    with pytest.raises(Conflict, match="please call the clinic"):
        commands.appointment_book(actor=me, doctor=doctor, patient=patient, start=monday_in(7))
    by_desk = commands.appointment_book(
        actor=owner, doctor=doctor, patient=patient, start=ist(5, 10)
    )
    assert by_desk.pk


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("booking_horizon_days", 10),
        ("booking_horizon_days", 4000),
        ("patient_open_bookings", 0),
        ("patient_open_bookings", 101),
    ],
)
def test_limits_outside_their_range_are_refused(owner: User, field: str, value: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        commands.scheduling_settings_update(
            actor=owner, check_in_opens_minutes=120, no_show_grace_minutes=15, **{field: value}
        )

    assert refused.value.field == field
