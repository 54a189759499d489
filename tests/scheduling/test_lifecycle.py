"""Every appointment transition, allowed and refused, through the API."""

from functools import partial
from typing import Any

import pytest
import time_machine
from django.db import transaction

from apps.clinic.models import User
from apps.core.errors import Conflict
from apps.eventstore.models import Event
from apps.scheduling import commands
from apps.scheduling.lifecycle import allowed_actions
from apps.scheduling.models import Appointment, Doctor, Patient, SchedulingSettings
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import AppointmentFactory


@pytest.fixture
def desk(owner: User, tenant: Tenant) -> HostClient:
    return client_for(owner, tenant)


def book(
    doctor: Doctor, patient: Patient, day: int = 4, hour: int = 10, minute: int = 0
) -> Appointment:
    return AppointmentFactory(doctor=doctor, patient=patient, start=ist(day, hour, minute))


def in_state(status: str, doctor: Doctor, patient: Patient) -> Appointment:
    """An appointment today at 10:00 brought to `status` by the commands."""
    appointment = book(doctor, patient)
    if status == "cancelled":
        return commands.appointment_cancel(actor=None, appointment=appointment, reason="ill")
    if status == "no_show":  # marked once the start and the grace have passed
        return commands.appointment_mark_no_show(
            actor=None, appointment=appointment, now=ist(4, 10, 20)
        )
    if status in ("checked_in", "completed"):
        appointment = commands.appointment_check_in(actor=None, appointment=appointment)
    if status == "completed":
        appointment = commands.appointment_complete(actor=None, appointment=appointment)
    return appointment


ACTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "cancel": ("cancel/", {"reason": "patient asked"}),
    "reschedule": ("reschedule/", {"start": "2027-01-05T11:00:00+05:30"}),
    "check-in": ("check-in/", {}),
    "complete": ("complete/", {}),
    "no-show": ("no-show/", {}),
    "follow-up": ("follow-up/", {"start": "2027-01-11T09:00:00+05:30"}),
}

ALLOWED = {
    ("booked", "cancel"): (200, "cancelled"),
    ("booked", "reschedule"): (200, "booked"),
    ("booked", "check-in"): (200, "checked_in"),
    ("booked", "no-show"): (200, "no_show"),
    ("checked_in", "complete"): (200, "completed"),
    ("completed", "follow-up"): (201, "booked"),
}

REFUSED = [
    (status, action)
    for status in ("booked", "checked_in", "completed", "cancelled", "no_show")
    for action in ACTIONS
    if (status, action) not in ALLOWED
]


def take(
    desk: HostClient,
    appointment: Appointment,
    action: str,
    monday_morning: time_machine.Coordinates,
) -> Any:
    path, body = ACTIONS[action]
    if action == "no-show":  # a no-show is marked from the start plus the grace
        monday_morning.move_to(ist(4, 10, 20))
    return desk.post(f"/api/v1/appointments/{appointment.pk}/{path}", body, format="json")


@pytest.mark.parametrize(("status", "action"), list(ALLOWED))
def test_each_allowed_transition_answers_with_the_new_state_and_one_event(
    desk: HostClient,
    doctor: Doctor,
    patient: Patient,
    status: str,
    action: str,
    monday_morning: time_machine.Coordinates,
) -> None:
    appointment = in_state(status, doctor, patient)
    events_before = Event.objects.count()

    response = take(desk, appointment, action, monday_morning)

    code, new_status = ALLOWED[(status, action)]
    assert response.status_code == code, response.content
    assert response.json()["status"] == new_status
    assert response.json()["position"] > 0
    assert Event.objects.count() == events_before + 1


@pytest.mark.parametrize(("status", "action"), REFUSED)
def test_each_refused_transition_is_a_409_that_changes_nothing(
    desk: HostClient,
    doctor: Doctor,
    patient: Patient,
    status: str,
    action: str,
    monday_morning: time_machine.Coordinates,
) -> None:
    appointment = in_state(status, doctor, patient)
    events_before = Event.objects.count()

    response = take(desk, appointment, action, monday_morning)

    appointment.refresh_from_db()
    assert response.status_code == 409, response.content
    assert "detail" in response.json()
    assert appointment.status == status
    assert Event.objects.count() == events_before


def test_booking_returns_the_contract_fields(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    response = desk.post(
        "/api/v1/appointments/",
        {"doctor": doctor.pk, "patient": patient.pk, "start": "2027-01-05T09:30:00+05:30"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "booked"
    assert (body["start"], body["end"]) == (
        "2027-01-05T09:30:00+05:30",
        "2027-01-05T10:00:00+05:30",
    )
    assert (body["doctor"], body["patient"], body["branch"]) == (
        doctor.pk,
        patient.pk,
        doctor.branch_id,
    )
    assert body["position"] == Event.objects.latest("position").position


def test_a_start_without_offset_is_read_in_branch_time(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    response = desk.post(
        "/api/v1/appointments/",
        {"doctor": doctor.pk, "patient": patient.pk, "start": "2027-01-05T09:30"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["start"] == "2027-01-05T09:30:00+05:30"


@pytest.mark.parametrize(
    ("start", "why"),
    [
        ("2027-01-05T13:00:00+05:30", "lunch break"),
        ("2027-01-05T08:30:00+05:30", "before hours"),
        ("2027-01-05T17:00:00+05:30", "after hours"),
        ("2027-01-10T10:00:00+05:30", "a Sunday"),
        ("2027-01-05T09:10:00+05:30", "not on the slot grid"),
        ("2027-01-04T07:30:00+05:30", "in the past"),
    ],
)
def test_booking_outside_free_slots_is_a_409(
    desk: HostClient, doctor: Doctor, patient: Patient, start: str, why: str
) -> None:
    response = desk.post(
        "/api/v1/appointments/",
        {"doctor": doctor.pk, "patient": patient.pk, "start": start},
        format="json",
    )

    assert response.status_code == 409, why
    assert not Appointment.objects.exists()


def test_booking_a_taken_slot_is_a_409(desk: HostClient, doctor: Doctor, patient: Patient) -> None:
    book(doctor, patient, day=5, hour=9)

    response = desk.post(
        "/api/v1/appointments/",
        {"doctor": doctor.pk, "patient": patient.pk, "start": "2027-01-05T09:00:00+05:30"},
        format="json",
    )

    assert response.status_code == 409
    assert response.json() == {"detail": "This slot is already taken."}
    assert Appointment.objects.count() == 1


def test_the_database_refuses_overlap_even_past_the_python_check(
    doctor: Doctor, patient: Patient
) -> None:
    from django.db import IntegrityError, transaction

    first = book(doctor, patient, day=5, hour=9)
    clash = Appointment(
        doctor=doctor, patient=patient, branch_id=doctor.branch_id, start=first.start, end=first.end
    )
    clash.record("AppointmentBooked", {}, actor=None)

    with pytest.raises(IntegrityError, match="appointment_no_overlap"), transaction.atomic():
        clash.save()


def test_reschedule_keeps_the_id_and_its_history(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    appointment = book(doctor, patient, day=5, hour=9)

    moved = desk.post(
        f"/api/v1/appointments/{appointment.pk}/reschedule/",
        {"start": "2027-01-06T15:00:00+05:30"},
        format="json",
    )
    detail = desk.get(f"/api/v1/appointments/{appointment.pk}/").json()

    assert moved.status_code == 200
    assert moved.json()["id"] == appointment.pk
    assert detail["start"] == "2027-01-06T15:00:00+05:30"
    assert [h["type"] for h in detail["history"]] == ["AppointmentBooked", "AppointmentRescheduled"]
    assert detail["history"][1]["data"]["previous_start"].startswith("2027-01-05T03:30:00")
    assert "2027-01-05T09:00:00+05:30" in [
        s["start"] for s in desk.get(f"/api/v1/doctors/{doctor.pk}/slots/?date=2027-01-05").json()
    ]


def test_reschedule_to_a_taken_slot_is_a_409(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    book(doctor, patient, day=5, hour=9)
    second = book(doctor, patient, day=5, hour=10)

    response = desk.post(
        f"/api/v1/appointments/{second.pk}/reschedule/",
        {"start": "2027-01-05T09:00:00+05:30"},
        format="json",
    )

    assert response.status_code == 409
    second.refresh_from_db()
    assert second.start == ist(5, 10)


def test_cancel_after_the_start_is_a_409(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    appointment = book(doctor, patient, day=4, hour=10)

    with time_machine.travel(ist(4, 10, 5), tick=False):
        response = desk.post(
            f"/api/v1/appointments/{appointment.pk}/cancel/", {"reason": "late"}, format="json"
        )

    assert response.status_code == 409


@pytest.mark.parametrize("path", ["check-in/", "no-show/"])
def test_check_in_and_no_show_only_on_the_appointments_day(
    desk: HostClient, doctor: Doctor, patient: Patient, path: str
) -> None:
    tomorrow = book(doctor, patient, day=5, hour=10)

    response = desk.post(f"/api/v1/appointments/{tomorrow.pk}/{path}", {}, format="json")

    assert response.status_code == 409
    tomorrow.refresh_from_db()
    assert tomorrow.status == "booked"


def test_follow_up_links_to_the_completed_visit(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    visit = in_state("completed", doctor, patient)

    response = desk.post(
        f"/api/v1/appointments/{visit.pk}/follow-up/",
        {"start": "2027-01-11T09:00:00+05:30"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["follow_up_of"] == visit.pk
    assert body["id"] != visit.pk
    assert (body["doctor"], body["patient"]) == (doctor.pk, patient.pk)


def test_cancel_needs_a_reason(desk: HostClient, doctor: Doctor, patient: Patient) -> None:
    appointment = book(doctor, patient, day=5)

    response = desk.post(f"/api/v1/appointments/{appointment.pk}/cancel/", {}, format="json")

    assert response.status_code == 400
    assert "reason" in response.json()


def test_the_cancel_reason_stays_out_of_the_event(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    appointment = book(doctor, patient, day=5)

    desk.post(
        f"/api/v1/appointments/{appointment.pk}/cancel/",
        {"reason": "diabetic crisis at home"},
        format="json",
    )

    cancelled = Event.objects.get(type="AppointmentCancelled")
    assert "diabetic" not in str(cancelled.data)
    appointment.refresh_from_db()
    assert appointment.cancel_reason == "diabetic crisis at home"


STEPS: dict[str, Any] = {
    "check_in": commands.appointment_check_in,
    "complete": commands.appointment_complete,
    "no_show": commands.appointment_mark_no_show,
    "undo_no_show": commands.appointment_undo_no_show,
    "cancel": partial(commands.appointment_cancel, reason="patient asked"),
    "reschedule": partial(commands.appointment_reschedule, start=ist(5, 11)),
}


@pytest.mark.parametrize("status", ["booked", "checked_in", "completed", "cancelled", "no_show"])
@pytest.mark.parametrize("clock", [(8, 0), (10, 20)], ids=["before-the-start", "after-the-grace"])
def test_what_a_visit_offers_is_exactly_what_its_commands_accept(
    owner: User,
    doctor: Doctor,
    patient: Patient,
    status: str,
    clock: tuple[int, int],
    monday_morning: time_machine.Coordinates,
) -> None:
    appointment = in_state(status, doctor, patient)
    monday_morning.move_to(ist(4, *clock))
    offered = allowed_actions(
        appointment.status,
        appointment.start,
        "Asia/Kolkata",
        SchedulingSettings.current(),
        ist(4, *clock),
    )

    accepted = {}
    for action, step in STEPS.items():
        savepoint = transaction.savepoint()
        try:
            step(actor=owner, appointment=appointment)
            accepted[action] = True
        except Conflict:
            accepted[action] = False
        finally:
            transaction.savepoint_rollback(savepoint)

    assert set(offered) == set(Appointment.TRANSITIONS) == set(STEPS)
    assert accepted == offered
