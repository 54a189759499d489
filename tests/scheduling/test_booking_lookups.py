"""A booking over the API finds its doctor and patient, each within the caller's reach, in one
statement (`booking_parties`), and still refuses what is out of reach with 404."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.clinic.models import Branch, Role, User
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory, UserFactory
from tests.conftest import client_for
from tests.scheduling.factories import DoctorFactory

START = "2027-01-05T09:00:00+05:30"


def test_a_booking_looks_up_its_doctor_and_patient_in_one_statement(
    owner: User, tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    client = client_for(owner, tenant)
    assert client.get("/api/v1/auth/me/").status_code == 200  # the principal is warm

    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/api/v1/appointments/",
            {"doctor": doctor.pk, "patient": patient.pk, "start": START},
            format="json",
        )

    assert response.status_code == 201
    doctor_reads = [q["sql"] for q in queries if 'FROM "scheduling_doctor"' in q["sql"]]
    patient_reads = [q["sql"] for q in queries if 'FROM "scheduling_patient"' in q["sql"]]
    assert len(doctor_reads) == 1
    assert patient_reads == doctor_reads  # the patient is asked for inside the same statement
    booked = Appointment.objects.get(pk=response.json()["id"])
    assert (booked.doctor_id, booked.patient_id) == (doctor.pk, patient.pk)


def test_a_doctor_of_another_branch_is_a_404_before_the_patient_is_asked_about(
    tenant: Tenant, main_branch: Branch, patient: Patient
) -> None:
    desk = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])
    elsewhere = DoctorFactory(branch=BranchFactory())
    client = client_for(desk, tenant)

    response = client.post(
        "/api/v1/appointments/",
        {"doctor": elsewhere.pk, "patient": 999999, "start": START},
        format="json",
    )

    assert response.status_code == 404
    assert response.json()["detail"] == "Doctor not found."
    assert not Appointment.objects.filter(doctor=elsewhere).exists()
