"""A patient on the waitlist through the app: joining, seeing the offer, taking the held
slot by booking it, leaving; and nobody else's place on the list within reach."""

from typing import Any

import pytest

from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient, WaitlistEntry
from tests.clock import ist
from tests.conftest import HostClient
from tests.patientapp.conftest import patient_client

NINE = "2027-01-05T09:00:00+05:30"


def join(client: HostClient, doctor: Doctor, day: str = "2027-01-05") -> Any:
    return client.post(
        "/api/v1/patient/waitlist/", {"doctor": doctor.pk, "date": day}, format="json"
    )


def slot_starts(client: HostClient, doctor: Doctor) -> list[str]:
    response = client.get(f"/api/v1/patient/doctors/{doctor.pk}/slots/?date=2027-01-05")
    assert response.status_code == 200
    return [slot["start"] for slot in response.json()]


@pytest.fixture
def taken(doctor: Doctor, someone_else: Patient) -> Appointment:
    """Someone else's 09:00 on Tuesday: the slot the waiting patient hopes for."""
    return commands.appointment_book(
        actor=None, doctor=doctor, patient=someone_else, start=ist(5, 9)
    )


def test_a_patient_joins_a_waitlist_and_sees_only_their_own_places(
    me: HostClient, doctor: Doctor, patient: Patient, someone_else: Patient, tenant: Any
) -> None:
    response = join(me, doctor)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["patient"], body["doctor"], body["date"], body["status"]) == (
        patient.pk,
        doctor.pk,
        "2027-01-05",
        "waiting",
    )
    assert body["position"] > 0
    assert [e["id"] for e in me.get("/api/v1/patient/waitlist/").json()["results"]] == [body["id"]]
    stranger = patient_client(someone_else, tenant)
    assert stranger.get("/api/v1/patient/waitlist/").json()["results"] == []
    assert stranger.post(f"/api/v1/patient/waitlist/{body['id']}/leave/").status_code == 404
    assert WaitlistEntry.objects.get(pk=body["id"]).status == WaitlistEntry.Status.WAITING


def test_the_offer_is_the_waiting_patients_to_book_and_nobody_elses(
    me: HostClient, doctor: Doctor, taken: Appointment, someone_else: Patient, tenant: Any
) -> None:
    entry = join(me, doctor).json()
    commands.appointment_cancel(actor=None, appointment=taken, reason="unwell")

    offered = me.get("/api/v1/patient/waitlist/").json()["results"][0]
    assert offered["status"] == "offered"
    assert offered["hold"]["start"] == NINE
    assert NINE in slot_starts(me, doctor)
    stranger = patient_client(someone_else, tenant)
    assert NINE not in slot_starts(stranger, doctor)
    refused = stranger.post(
        "/api/v1/patient/appointments/", {"doctor": doctor.pk, "start": NINE}, format="json"
    )
    assert refused.status_code == 409

    booked = me.post(
        "/api/v1/patient/appointments/", {"doctor": doctor.pk, "start": NINE}, format="json"
    )

    assert booked.status_code == 201, booked.content
    assert WaitlistEntry.objects.get(pk=entry["id"]).status == WaitlistEntry.Status.FULFILLED


def test_a_patient_leaves_the_waitlist(me: HostClient, doctor: Doctor) -> None:
    entry = join(me, doctor).json()

    response = me.post(f"/api/v1/patient/waitlist/{entry['id']}/leave/")

    assert response.status_code == 200
    assert response.json()["status"] == "left"
    assert me.post(f"/api/v1/patient/waitlist/{entry['id']}/leave/").status_code == 409


def test_joining_twice_or_for_a_past_day_is_refused(me: HostClient, doctor: Doctor) -> None:
    assert join(me, doctor).status_code == 201
    assert join(me, doctor).status_code == 409
    assert join(me, doctor, day="2027-01-01").status_code == 400
    assert join(me, doctor, day="not-a-date").status_code == 400


def test_another_clinics_patient_reaches_no_waitlist_here(
    me: HostClient, outsider: HostClient, doctor: Doctor
) -> None:
    entry = join(me, doctor).json()

    assert outsider.get("/api/v1/patient/waitlist/").json()["results"] == []
    assert outsider.post(f"/api/v1/patient/waitlist/{entry['id']}/leave/").status_code == 404
    assert join(outsider, doctor).status_code == 404
