"""Browsing patients and their visits stays inside the caller's reach (PHI, security issue)."""

from apps.audit.models import AuditEntry
from apps.clinic.models import Branch, Role, User
from apps.eventstore.projections import catch_up
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory, UserFactory
from tests.clock import ist
from tests.conftest import client_for
from tests.scheduling.factories import DoctorFactory, PatientFactory


def desk_of(branch: Branch) -> User:
    return UserFactory(role=Role.RECEPTIONIST, branches=[branch])


def test_browsing_without_a_search_lists_only_patients_of_my_branches(
    tenant: Tenant, main_branch: Branch, doctor: Doctor
) -> None:
    elsewhere = BranchFactory(name="Thane")
    mine = PatientFactory(name="Registered Here", branch=main_branch)
    booked_here = PatientFactory(name="Booked Here", branch=elsewhere)
    commands.appointment_book(actor=None, doctor=doctor, patient=booked_here, start=ist(5, 10))
    theirs = PatientFactory(name="Registered There", branch=elsewhere)

    listed = client_for(desk_of(main_branch), tenant).get("/api/v1/patients/").json()

    ids = {row["id"] for row in listed["results"]}
    assert {mine.pk, booked_here.pk} <= ids
    assert theirs.pk not in ids


def test_a_search_by_phone_still_finds_a_patient_of_another_branch(
    tenant: Tenant, main_branch: Branch
) -> None:
    theirs = PatientFactory(phone="+919876500011", branch=BranchFactory(name="Vashi"))

    found = client_for(desk_of(main_branch), tenant).get(
        "/api/v1/patients/", {"phone": "98765 00011"}
    )

    assert [row["id"] for row in found.json()["results"]] == [theirs.pk]


def test_browsing_pages_are_capped(tenant: Tenant, owner: User) -> None:
    for _ in range(55):
        PatientFactory()

    page = client_for(owner, tenant).get("/api/v1/patients/", {"page_size": 200}).json()

    assert len(page["results"]) == 50
    assert page["next"] is not None


def test_upcoming_visits_show_only_my_branches_and_for_a_doctor_only_their_own(
    tenant: Tenant, main_branch: Branch, patient: Patient
) -> None:
    doctor_user = UserFactory(role=Role.DOCTOR, branches=[main_branch])
    doctor = DoctorFactory(branch=main_branch, user=doctor_user)
    elsewhere = BranchFactory(name="Andheri")
    other_doctor = DoctorFactory(branch=elsewhere)
    colleague = DoctorFactory(branch=main_branch)
    here = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    there = commands.appointment_book(
        actor=None, doctor=other_doctor, patient=patient, start=ist(6, 10)
    )
    with_colleague = commands.appointment_book(
        actor=None, doctor=colleague, patient=patient, start=ist(7, 10)
    )
    catch_up()
    path = f"/api/v1/patients/{patient.pk}/upcoming/"

    desk = client_for(desk_of(main_branch), tenant).get(path).json()
    own_doctor = client_for(doctor_user, tenant).get(path).json()
    owner_view = client_for(User.objects.get(role=Role.OWNER), tenant).get(path).json()

    assert [row["id"] for row in desk["appointments"]] == [here.pk, with_colleague.pk]
    assert [row["id"] for row in own_doctor["appointments"]] == [here.pk]
    assert [row["id"] for row in owner_view["appointments"]] == [
        here.pk,
        there.pk,
        with_colleague.pk,
    ]


def test_a_search_by_post_finds_by_phone_with_the_number_out_of_the_url(
    tenant: Tenant, main_branch: Branch
) -> None:
    wanted = PatientFactory(name="Found By Body", phone="+919876500022")
    desk = client_for(desk_of(main_branch), tenant)

    found = desk.post("/api/v1/patients/search/", {"phone": "98765 00022"}, format="json")
    nobody = desk.post("/api/v1/patients/search/", {"phone": "98765 00099"}, format="json")
    bad = desk.post("/api/v1/patients/search/", {"phone": "call me"}, format="json")

    assert found.status_code == 200
    assert found.json()["count"] == 1
    assert found.json()["results"][0]["id"] == wanted.pk
    assert nobody.json() == {"count": 0, "results": []}
    assert bad.status_code == 400 and "phone" in bad.json()
    search = AuditEntry.objects.filter(action="patient.search").order_by("-id")[1]
    assert search.detail == {"patients": [wanted.pk]}
