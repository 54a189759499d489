"""Scheduling API: doctors, patients, appointments; bad input, roles and branch scoping."""

from typing import Any

import pytest

from apps.clinic.models import Branch, Role, User
from apps.eventstore.models import Event
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory, UserFactory
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import DoctorFactory, PatientFactory

NEW_DOCTOR = {
    "name": "Dr. Sana Qureshi",
    "specialty": "Paediatrics",
    "slot_minutes": 15,
    "consultation_fee": "750.00",
    "weekly_hours": [{"weekday": 0, "start": "09:00", "end": "12:00"}],
}


@pytest.fixture
def desk(owner: User, tenant: Tenant) -> HostClient:
    return client_for(owner, tenant)


@pytest.fixture
def elsewhere(tenant: Tenant) -> Branch:
    return BranchFactory(name="Bandra West")


@pytest.fixture
def other_desk(tenant: Tenant, elsewhere: Branch) -> HostClient:
    """A receptionist of another branch of the same tenant."""
    return client_for(UserFactory(role=Role.RECEPTIONIST, branches=[elsewhere]), tenant)


def test_owner_adds_a_doctor(desk: HostClient, main_branch: Branch) -> None:
    response = desk.post(
        "/api/v1/doctors/", {**NEW_DOCTOR, "branch": main_branch.pk}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["consultation_fee"] == "750.00"
    assert body["weekly_hours"] == NEW_DOCTOR["weekly_hours"]
    assert body["position"] == Event.objects.get(type="DoctorAdded").position


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"slot_minutes": 0}, "slot_minutes"),
        ({"slot_minutes": "thirty"}, "slot_minutes"),
        ({"consultation_fee": "-1"}, "consultation_fee"),
        ({"consultation_fee": "abc"}, "consultation_fee"),
        ({"consultation_fee": "1e400"}, "consultation_fee"),
        ({"weekly_hours": [{"weekday": 7, "start": "09:00", "end": "10:00"}]}, "weekly_hours"),
        ({"weekly_hours": [{"weekday": 0, "start": "11:00", "end": "10:00"}]}, "weekly_hours"),
        ({"weekly_hours": [{"weekday": 0, "start": "9am", "end": "10:00"}]}, "weekly_hours"),
        ({"weekly_hours": [{"weekday": 0, "start": "25:00", "end": "26:00"}]}, "weekly_hours"),
        (
            {
                "weekly_hours": [
                    {"weekday": 0, "start": "09:00", "end": "11:00"},
                    {"weekday": 0, "start": "10:00", "end": "12:00"},
                ]
            },
            "weekly_hours",
        ),
        ({"weekly_hours": "mornings"}, "weekly_hours"),
        ({"name": ""}, "name"),
        ({"branch": "main"}, "branch"),
    ],
)
def test_bad_doctor_input_is_a_400(
    desk: HostClient, main_branch: Branch, overrides: dict[str, Any], field: str
) -> None:
    response = desk.post(
        "/api/v1/doctors/", {**NEW_DOCTOR, "branch": main_branch.pk, **overrides}, format="json"
    )

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Doctor.objects.exists()


def test_a_doctor_is_linked_to_a_doctor_login(desk: HostClient, main_branch: Branch) -> None:
    login = UserFactory(role=Role.DOCTOR, branches=[main_branch])
    receptionist = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])

    linked = desk.post(
        "/api/v1/doctors/",
        {**NEW_DOCTOR, "branch": main_branch.pk, "user": login.pk},
        format="json",
    )
    wrong_role = desk.post(
        "/api/v1/doctors/",
        {**NEW_DOCTOR, "branch": main_branch.pk, "user": receptionist.pk},
        format="json",
    )

    assert linked.status_code == 201
    assert linked.json()["user"] == login.pk
    assert wrong_role.status_code == 400
    assert "user" in wrong_role.json()


def test_a_doctor_in_a_branch_out_of_reach_cannot_be_added(
    tenant: Tenant, main_branch: Branch, elsewhere: Branch
) -> None:
    lead = client_for(UserFactory(role=Role.BRANCH_MANAGER, branches=[main_branch]), tenant)

    response = lead.post("/api/v1/doctors/", {**NEW_DOCTOR, "branch": elsewhere.pk}, format="json")

    assert response.status_code == 404
    assert not Doctor.objects.exists()


def test_receptionists_may_not_add_doctors(tenant: Tenant, main_branch: Branch) -> None:
    desk = client_for(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]), tenant)

    response = desk.post(
        "/api/v1/doctors/", {**NEW_DOCTOR, "branch": main_branch.pk}, format="json"
    )

    assert response.status_code == 403


def test_doctor_list_is_scoped_to_the_callers_branches(
    other_desk: HostClient, doctor: Doctor, elsewhere: Branch
) -> None:
    theirs = DoctorFactory(branch=elsewhere)

    body = other_desk.get("/api/v1/doctors/").json()

    assert [row["id"] for row in body["results"]] == [theirs.pk]
    assert other_desk.get(f"/api/v1/doctors/{doctor.pk}/").status_code == 404


def test_patients_are_registered_and_found_by_phone(desk: HostClient) -> None:
    created = desk.post(
        "/api/v1/patients/",
        {"name": "Anita Desai", "phone": "098123 45670", "date_of_birth": "1980-02-29"},
        format="json",
    )

    assert created.status_code == 201, created.content
    assert created.json()["phone"] == "+919812345670"
    found = desk.get("/api/v1/patients/?phone=%2B91%2098123-45670").json()
    assert [row["id"] for row in found["results"]] == [created.json()["id"]]
    assert desk.get("/api/v1/patients/?phone=9000000000").json()["count"] == 0


def test_a_patients_language_and_email_are_optional_and_kept(desk: HostClient) -> None:
    plain = desk.post(
        "/api/v1/patients/", {"name": "Asha Rao", "phone": "9812345671"}, format="json"
    ).json()
    hindi = desk.post(
        "/api/v1/patients/",
        {"name": "Sunil Verma", "phone": "9812345672", "language": "hi",
         "email": "sunil@example.com"},
        format="json",
    ).json()  # fmt: skip
    bad = desk.post(
        "/api/v1/patients/",
        {"name": "A", "phone": "9812345673", "language": "xx"},
        format="json",
    )

    assert (plain["language"], plain["email"]) == ("en", None)  # null, never "" (API v1.1)
    assert (hindi["language"], hindi["email"]) == ("hi", "sunil@example.com")
    assert desk.get(f"/api/v1/patients/{hindi['id']}/").json()["language"] == "hi"
    assert bad.status_code == 400 and "language" in bad.json()
    assert "sunil@example.com" not in str(list(Event.objects.values("data")))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "A", "phone": "12"}, "phone"),
        ({"name": "A", "phone": "call me"}, "phone"),
        ({"name": "", "phone": "9812345670"}, "name"),
        ({"name": "A", "phone": "9812345670", "date_of_birth": "1980-13-01"}, "date_of_birth"),
        ({"name": "A", "phone": "9812345670", "date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"phone": "9812345670"}, "name"),
    ],
)
def test_bad_patient_input_is_a_400(desk: HostClient, body: dict[str, Any], field: str) -> None:
    response = desk.post("/api/v1/patients/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Patient.objects.exists()


def test_a_malformed_phone_search_is_a_400(desk: HostClient) -> None:
    assert desk.get("/api/v1/patients/?phone=abc").status_code == 400


def test_patient_events_carry_no_phi(desk: HostClient) -> None:
    desk.post(
        "/api/v1/patients/",
        {"name": "Zarina Wahab", "phone": "9876501234", "date_of_birth": "1975-06-01"},
        format="json",
    )

    dumped = str(list(Event.objects.values("data", "metadata")))
    for secret in ("Zarina", "Wahab", "9876501234", "1975-06-01"):
        assert secret not in dumped


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"doctor": "one", "patient": 1, "start": "2027-01-05T09:00:00+05:30"},
        {"doctor": 1, "patient": 1, "start": "next tuesday"},
        {"doctor": 1, "patient": 1, "start": 1700000000},
        {"doctor": -1, "patient": 1, "start": "2027-01-05T09:00:00+05:30"},
        [],
    ],
)
def test_bad_booking_input_is_a_400(desk: HostClient, body: Any) -> None:
    response = desk.post("/api/v1/appointments/", body, format="json")

    assert response.status_code == 400


def test_malformed_json_is_a_400(desk: HostClient) -> None:
    response = desk.post("/api/v1/appointments/", data="{", content_type="application/json")

    assert response.status_code == 400


def test_booking_an_unknown_doctor_or_patient_is_a_404(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    start = "2027-01-05T09:00:00+05:30"
    no_doctor = desk.post(
        "/api/v1/appointments/",
        {"doctor": 999999, "patient": patient.pk, "start": start},
        format="json",
    )
    no_patient = desk.post(
        "/api/v1/appointments/",
        {"doctor": doctor.pk, "patient": 999999, "start": start},
        format="json",
    )

    assert (no_doctor.status_code, no_patient.status_code) == (404, 404)


def test_every_appointment_endpoint_hides_other_branches(
    other_desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    appointment = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=ist(4, 10)
    )
    start = {"start": "2027-01-05T09:00:00+05:30"}

    assert other_desk.get(f"/api/v1/appointments/{appointment.pk}/").status_code == 404
    assert other_desk.get("/api/v1/appointments/").json()["count"] == 0
    for path, body in [
        ("cancel/", {"reason": "x"}), ("reschedule/", start), ("check-in/", {}),
        ("complete/", {}), ("no-show/", {}), ("follow-up/", start),
    ]:  # fmt: skip
        response = other_desk.post(
            f"/api/v1/appointments/{appointment.pk}/{path}", body, format="json"
        )
        assert response.status_code == 404, path
    booking = other_desk.post(
        "/api/v1/appointments/",
        {"doctor": doctor.pk, "patient": patient.pk, **start},
        format="json",
    )
    assert booking.status_code == 404
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_another_tenant_sees_none_of_it(
    other_tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    from django_tenants.utils import schema_context

    appointment = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=ist(4, 10)
    )
    with schema_context(other_tenant.schema_name):
        foreign_owner = User.objects.get(role=Role.OWNER)
    client = client_for(foreign_owner, other_tenant)

    assert client.get(f"/api/v1/appointments/{appointment.pk}/").status_code == 404
    assert client.get(f"/api/v1/doctors/{doctor.pk}/slots/?date=2027-01-05").status_code == 404
    assert client.get(f"/api/v1/patients/{patient.pk}/").status_code == 404
    assert client.post(f"/api/v1/appointments/{appointment.pk}/check-in/").status_code == 404


def test_appointment_list_filters(desk: HostClient, doctor: Doctor, patient: Patient) -> None:
    today = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 10))
    tomorrow = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=ist(5, 10)
    )
    commands.appointment_cancel(actor=None, appointment=tomorrow, reason="x")

    by_date = desk.get("/api/v1/appointments/?date=2027-01-04").json()
    by_status = desk.get("/api/v1/appointments/?status=cancelled").json()

    assert [row["id"] for row in by_date["results"]] == [today.pk]
    assert [row["id"] for row in by_status["results"]] == [tomorrow.pk]
    assert desk.get("/api/v1/appointments/?date=soon").status_code == 400
    assert desk.get("/api/v1/appointments/?status=lost").status_code == 400


class TestDoctorRole:
    @pytest.fixture
    def own_doctor(self, main_branch: Branch) -> tuple[Doctor, User]:
        login = UserFactory(role=Role.DOCTOR, branches=[main_branch])
        return DoctorFactory(branch=main_branch, user=login), login

    def test_a_doctor_sees_and_moves_only_their_own_visits(
        self, tenant: Tenant, own_doctor: tuple[Doctor, User], doctor: Doctor, patient: Patient
    ) -> None:
        mine, login = own_doctor
        own = commands.appointment_book(actor=None, doctor=mine, patient=patient, start=ist(4, 10))
        other = commands.appointment_book(
            actor=None, doctor=doctor, patient=patient, start=ist(4, 10)
        )
        client = client_for(login, tenant)

        listed = client.get("/api/v1/appointments/").json()
        assert [row["id"] for row in listed["results"]] == [own.pk]
        assert client.post(f"/api/v1/appointments/{own.pk}/check-in/").status_code == 200
        assert client.post(f"/api/v1/appointments/{own.pk}/complete/").status_code == 200
        assert client.post(f"/api/v1/appointments/{other.pk}/check-in/").status_code == 404

    def test_a_doctor_may_not_book_cancel_register_or_read_the_log(
        self, tenant: Tenant, own_doctor: tuple[Doctor, User], patient: Patient
    ) -> None:
        mine, login = own_doctor
        own = commands.appointment_book(actor=None, doctor=mine, patient=patient, start=ist(5, 10))
        client = client_for(login, tenant)
        start = {"start": "2027-01-06T09:00:00+05:30"}

        assert (
            client.post(
                "/api/v1/appointments/",
                {"doctor": mine.pk, "patient": patient.pk, **start},
                format="json",
            ).status_code
            == 403
        )
        assert (
            client.post(f"/api/v1/appointments/{own.pk}/cancel/", {"reason": "x"}).status_code
            == 403
        )
        assert client.post(f"/api/v1/appointments/{own.pk}/reschedule/", start).status_code == 403
        assert (
            client.post("/api/v1/patients/", {"name": "X", "phone": "9812345670"}).status_code
            == 403
        )
        assert client.get("/api/v1/events/").status_code == 403
        assert client.get("/api/v1/staff/").status_code == 403

    def test_a_doctor_reads_only_their_own_patients(
        self, tenant: Tenant, own_doctor: tuple[Doctor, User], doctor: Doctor
    ) -> None:
        mine, login = own_doctor
        theirs, stranger = PatientFactory(), PatientFactory()
        commands.appointment_book(actor=None, doctor=mine, patient=theirs, start=ist(5, 10))
        commands.appointment_book(actor=None, doctor=doctor, patient=stranger, start=ist(5, 10))
        client = client_for(login, tenant)

        assert client.get(f"/api/v1/patients/{theirs.pk}/").status_code == 200
        assert client.get(f"/api/v1/patients/{stranger.pk}/").status_code == 404


def test_command_responses_carry_the_new_position(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    appointment = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=ist(4, 10)
    )

    response = desk.post(f"/api/v1/appointments/{appointment.pk}/check-in/")

    assert response.json()["position"] == Event.objects.latest("position").position
    assert response.json()["position"] > appointment.position
    assert Appointment.objects.get(pk=appointment.pk).status == "checked_in"
