"""A patient's own visits through the app: the same commands and events as the front desk,
the patient recorded as the actor, the tenant's change window, and nobody else's visits,
invoices or clinic within reach (404)."""

from decimal import Decimal
from typing import Any

import pytest

from apps.audit.models import AuditEntry
from apps.billing import commands as billing
from apps.clinic.models import Branch, User
from apps.eventstore.models import Event
from apps.patientapp import commands as patientapp
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import DoctorFactory

BOOKING_SHAPE = {
    "id",
    "doctor",
    "patient",
    "branch",
    "start",
    "end",
    "status",
    "cancel_reason",
    "follow_up_of",
    "token",  # the queue token, null until check-in
    "position",
}


def book(client: HostClient, doctor: Doctor, start: str) -> Any:
    return client.post(
        "/api/v1/patient/appointments/", {"doctor": doctor.pk, "start": start}, format="json"
    )


@pytest.fixture
def mine(doctor: Doctor, patient: Patient) -> Appointment:
    return commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))


@pytest.fixture
def theirs(doctor: Doctor, someone_else: Patient) -> Appointment:
    return commands.appointment_book(
        actor=None, doctor=doctor, patient=someone_else, start=ist(5, 10)
    )


# Booking


def test_a_patient_books_a_free_slot_like_the_front_desk(
    me: HostClient, doctor: Doctor, patient: Patient
) -> None:
    response = book(me, doctor, "2027-01-05T09:00:00+05:30")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == BOOKING_SHAPE
    assert (body["patient"], body["status"], body["start"]) == (
        patient.pk,
        "booked",
        "2027-01-05T09:00:00+05:30",
    )
    event = Event.objects.get(type="AppointmentBooked", data__id=body["id"])
    assert body["position"] == event.position
    assert (event.metadata["actor_id"], event.metadata["actor_role"]) == (patient.pk, "patient")
    audit = AuditEntry.objects.get(action="event.appended", target=f"event:{event.position}")
    assert (audit.actor_id, audit.actor_role) == (patient.pk, "patient")


def test_a_taken_slot_answers_409(me: HostClient, doctor: Doctor, theirs: Appointment) -> None:
    response = book(me, doctor, "2027-01-05T10:00:00+05:30")

    assert response.status_code == 409
    assert "taken" in response.json()["detail"]


def test_a_doctor_of_another_clinic_is_not_found(outsider: HostClient, doctor: Doctor) -> None:
    assert book(outsider, doctor, "2027-01-05T09:00:00+05:30").status_code == 404
    assert (
        outsider.get(f"/api/v1/patient/doctors/{doctor.pk}/slots/?date=2027-01-05").status_code
        == 404
    )


def test_an_inactive_doctor_is_not_bookable(me: HostClient, doctor: Doctor) -> None:
    commands.doctor_update(actor=None, doctor=doctor, active=False)

    assert book(me, doctor, "2027-01-05T09:00:00+05:30").status_code == 404
    assert me.get("/api/v1/patient/doctors/").json()["count"] == 0


def test_patient_and_desk_actions_append_the_same_events(
    me: HostClient, owner: User, tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    desk = client_for(owner, tenant)

    def run(client: HostClient, base: str, booking_body: dict[str, Any], hour: int) -> list[Any]:
        booked = client.post(
            base, {**booking_body, "start": f"2027-01-06T{hour:02d}:00:00+05:30"}, format="json"
        ).json()
        moved = f"2027-01-06T{hour + 1:02d}:00:00+05:30"
        assert (
            client.post(
                f"{base}{booked['id']}/reschedule/", {"start": moved}, format="json"
            ).status_code
            == 200
        )
        assert (
            client.post(
                f"{base}{booked['id']}/cancel/", {"reason": "travel"}, format="json"
            ).status_code
            == 200
        )
        return list(
            Event.objects.filter(data__id=booked["id"], stream__startswith="appointment").order_by(
                "position"
            )
        )

    staff_events = run(
        desk, "/api/v1/appointments/", {"doctor": doctor.pk, "patient": patient.pk}, 9
    )
    patient_events = run(me, "/api/v1/patient/appointments/", {"doctor": doctor.pk}, 14)

    assert (
        [e.type for e in patient_events]
        == [e.type for e in staff_events]
        == [
            "AppointmentBooked",
            "AppointmentRescheduled",
            "AppointmentCancelled",
        ]
    )
    for staff_event, patient_event in zip(staff_events, patient_events, strict=True):
        assert set(patient_event.data) == set(staff_event.data)
        assert staff_event.metadata["actor_role"] == "owner"
        assert patient_event.metadata["actor_role"] == "patient"
        assert patient_event.metadata["actor_id"] == patient.pk
    assert patient_events[-1].data["deposit"] == staff_events[-1].data["deposit"]


# Reading


def test_the_list_holds_only_the_patients_own_visits(
    me: HostClient, mine: Appointment, theirs: Appointment
) -> None:
    body = me.get("/api/v1/patient/appointments/").json()

    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    assert [row["id"] for row in body["results"]] == [mine.pk]


def test_the_list_is_empty_for_a_patient_of_another_clinic(
    outsider: HostClient, mine: Appointment
) -> None:
    assert outsider.get("/api/v1/patient/appointments/").json()["count"] == 0


def test_a_patient_reads_their_visit(me: HostClient, mine: Appointment) -> None:
    response = me.get(f"/api/v1/patient/appointments/{mine.pk}/")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["start"]) == (
        mine.pk,
        "2027-01-05T09:00:00+05:30",
    )


def test_someone_elses_visit_is_not_found(me: HostClient, theirs: Appointment) -> None:
    assert me.get(f"/api/v1/patient/appointments/{theirs.pk}/").status_code == 404


def test_a_visit_of_another_clinic_is_not_found(outsider: HostClient, mine: Appointment) -> None:
    assert outsider.get(f"/api/v1/patient/appointments/{mine.pk}/").status_code == 404


# Cancel and reschedule


def test_a_patient_cancels_their_visit(me: HostClient, mine: Appointment, patient: Patient) -> None:
    response = me.post(f"/api/v1/patient/appointments/{mine.pk}/cancel/", {}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    event = Event.objects.get(type="AppointmentCancelled", data__id=mine.pk)
    assert event.position == response.json()["position"]
    assert (event.metadata["actor_id"], event.metadata["actor_role"]) == (patient.pk, "patient")


def test_a_patient_reschedules_their_visit(me: HostClient, mine: Appointment) -> None:
    response = me.post(
        f"/api/v1/patient/appointments/{mine.pk}/reschedule/",
        {"start": "2027-01-05T11:00:00+05:30"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert (response.json()["id"], response.json()["start"]) == (
        mine.pk,
        "2027-01-05T11:00:00+05:30",
    )
    assert Event.objects.get(type="AppointmentRescheduled").metadata["actor_role"] == "patient"


@pytest.mark.parametrize("action", ["cancel", "reschedule"])
def test_someone_elses_visit_cannot_be_changed(
    me: HostClient, theirs: Appointment, action: str
) -> None:
    response = me.post(
        f"/api/v1/patient/appointments/{theirs.pk}/{action}/",
        {"start": "2027-01-05T11:00:00+05:30"},
        format="json",
    )

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert (theirs.status, theirs.start) == ("booked", ist(5, 10))


@pytest.mark.parametrize("action", ["cancel", "reschedule"])
def test_a_visit_of_another_clinic_cannot_be_changed(
    outsider: HostClient, mine: Appointment, action: str
) -> None:
    response = outsider.post(
        f"/api/v1/patient/appointments/{mine.pk}/{action}/",
        {"start": "2027-01-05T11:00:00+05:30"},
        format="json",
    )

    assert response.status_code == 404
    mine.refresh_from_db()
    assert mine.status == "booked"


def test_the_command_itself_refuses_another_patients_visit(
    patient: Patient, theirs: Appointment
) -> None:
    from apps.core.errors import NotFound
    from apps.scheduling.actors import PatientActor

    with pytest.raises(NotFound):
        commands.appointment_cancel(actor=PatientActor(patient.pk), appointment=theirs, reason="x")


@pytest.mark.parametrize("action", ["cancel", "reschedule"])
def test_changes_close_four_hours_before_the_visit(
    me: HostClient, doctor: Doctor, patient: Patient, action: str
) -> None:
    # It is 08:00: 11:30 is within four hours, 12:00 is exactly four hours away.
    soon = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=ist(4, 11, 30)
    )
    later = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 12))
    body = {"start": "2027-01-05T16:00:00+05:30"}

    refused = me.post(f"/api/v1/patient/appointments/{soon.pk}/{action}/", body, format="json")
    allowed = me.post(f"/api/v1/patient/appointments/{later.pk}/{action}/", body, format="json")

    assert refused.status_code == 409
    assert "4 hours" in refused.json()["detail"]
    soon.refresh_from_db()
    assert (soon.status, soon.start) == ("booked", ist(4, 11, 30))
    assert allowed.status_code == 200, allowed.content


def test_the_change_window_is_the_tenants_setting(
    me: HostClient, doctor: Doctor, patient: Patient
) -> None:
    soon = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=ist(4, 11, 30)
    )
    patientapp.patient_app_settings_update(actor=None, change_window_hours=1)

    response = me.post(f"/api/v1/patient/appointments/{soon.pk}/cancel/", {}, format="json")

    assert response.status_code == 200
    assert Event.objects.filter(type="PatientAppSettingsChanged").count() == 1


def test_the_front_desk_may_still_cancel_late(
    owner: User, tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    soon = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))
    desk = client_for(owner, tenant)

    response = desk.post(f"/api/v1/appointments/{soon.pk}/cancel/", {"reason": "x"}, format="json")

    assert response.status_code == 200


# Doctors and slots


def test_bookable_doctors_by_branch(me: HostClient, doctor: Doctor, main_branch: Branch) -> None:
    other = DoctorFactory(branch=BranchFactory(name="Thane"), consultation_fee=Decimal("800"))

    everyone = me.get("/api/v1/patient/doctors/").json()
    here = me.get(f"/api/v1/patient/doctors/?branch={main_branch.pk}").json()

    assert {row["id"] for row in everyone["results"]} == {doctor.pk, other.pk}
    assert [row["id"] for row in here["results"]] == [doctor.pk]
    row = here["results"][0]
    assert (row["name"], row["specialty"], row["branch"], row["fee"]) == (
        "Dr. Kavita Menon",
        "General medicine",
        main_branch.pk,
        "500.00",
    )


def test_no_doctors_of_another_clinic_are_listed(outsider: HostClient, doctor: Doctor) -> None:
    assert outsider.get("/api/v1/patient/doctors/").json()["count"] == 0


def test_free_slots_leave_out_taken_ones(
    me: HostClient, doctor: Doctor, theirs: Appointment
) -> None:
    response = me.get(f"/api/v1/patient/doctors/{doctor.pk}/slots/?date=2027-01-05")

    assert response.status_code == 200
    starts = [slot["start"] for slot in response.json()]
    assert "2027-01-05T09:30:00+05:30" in starts
    assert "2027-01-05T10:00:00+05:30" not in starts
    assert me.get(f"/api/v1/patient/doctors/{doctor.pk}/slots/").status_code == 400


# Invoices


@pytest.fixture
def my_invoice(mine: Appointment) -> Any:
    billing.payment_take(
        actor=None, appointment=mine, kind="deposit", amount=Decimal("200.00"), method="upi"
    )
    return mine.invoice


@pytest.fixture
def their_invoice(theirs: Appointment) -> Any:
    billing.payment_take(
        actor=None, appointment=theirs, kind="deposit", amount=Decimal("100.00"), method="cash"
    )
    return theirs.invoice


def test_a_patient_sees_their_own_invoices(
    me: HostClient, my_invoice: Any, their_invoice: Any, mine: Appointment
) -> None:
    listing = me.get("/api/v1/patient/invoices/").json()
    one = me.get(f"/api/v1/patient/invoices/{my_invoice.pk}/")

    assert [row["id"] for row in listing["results"]] == [my_invoice.pk]
    assert one.status_code == 200
    body = one.json()
    assert (body["appointment"], body["number"], body["paid"], body["balance_due"]) == (
        mine.pk,
        my_invoice.number,
        "200.00",
        "300.00",
    )


def test_someone_elses_invoice_is_not_found(me: HostClient, their_invoice: Any) -> None:
    assert me.get(f"/api/v1/patient/invoices/{their_invoice.pk}/").status_code == 404


def test_an_invoice_of_another_clinic_is_not_found(outsider: HostClient, my_invoice: Any) -> None:
    assert outsider.get(f"/api/v1/patient/invoices/{my_invoice.pk}/").status_code == 404
    assert outsider.get("/api/v1/patient/invoices/").json()["count"] == 0


def test_an_erased_patient_is_signed_out(me: HostClient, patient: Patient) -> None:
    commands.patient_erase(actor=None, patient=patient)

    assert me.get("/api/v1/patient/me/").status_code == 401
