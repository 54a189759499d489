"""The chain manager's admin: role and branch limits, actions through the commands,
audited patient reads, and the dashboard."""

from decimal import Decimal

import pytest

from apps.audit.models import AuditEntry
from apps.clinic.commands import staff_create
from apps.clinic.models import Branch, Role, User
from apps.eventstore.models import Event
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient
from tests.clinic.factories import STAFF_PASSWORD, BranchFactory
from tests.clock import ist
from tests.conftest import HostClient
from tests.scheduling.factories import DoctorFactory, PatientFactory

pytestmark = pytest.mark.usefixtures("monday_morning")


@pytest.fixture
def lead(main_branch: Branch) -> User:
    return staff_create(
        actor=None,
        name="Lead",
        email="lead@acme.example.com",
        password=STAFF_PASSWORD,
        role=Role.BRANCH_MANAGER,
        branches=[main_branch],
    )


def test_a_branch_manager_sees_only_their_branch_and_no_staff(
    api: HostClient, lead: User, doctor: Doctor, patient: Patient
) -> None:
    other = DoctorFactory(branch=BranchFactory(name="Thane"))
    mine = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 10))
    theirs = commands.appointment_book(
        actor=None, doctor=other, patient=PatientFactory(), start=ist(4, 10)
    )
    api.force_login(lead)

    index = api.get("/admin/")
    listing = api.get("/admin/scheduling/appointment/").content.decode()

    assert index.status_code == 200 and "Chain dashboard" in index.content.decode()
    assert f'href="/admin/scheduling/appointment/{mine.pk}/change/' in listing
    assert f"/admin/scheduling/appointment/{theirs.pk}/change/" not in listing
    assert (
        api.get(f"/admin/scheduling/appointment/{theirs.pk}/change/").status_code == 302
    )  # not found
    assert api.get("/admin/clinic/user/").status_code == 403
    assert api.get("/admin/scheduling/patient/").status_code == 403


def test_admin_actions_go_through_the_commands(
    api: HostClient, owner: User, doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 10))
    tomorrow = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=ist(5, 10)
    )
    api.force_login(owner)

    api.post(
        "/admin/scheduling/appointment/",
        {"action": "check_in", "_selected_action": [visit.pk, tomorrow.pk]},
    )

    assert Appointment.objects.get(pk=visit.pk).status == "checked_in"
    assert Appointment.objects.get(pk=tomorrow.pk).status == "booked"  # refused: not its day
    event = Event.objects.filter(type="AppointmentCheckedIn").get()
    assert event.metadata["actor_id"] == owner.pk


def test_patient_lists_show_names_and_masked_phones_and_every_view_is_an_audited_read(
    api: HostClient, owner: User, patient: Patient
) -> None:
    api.force_login(owner)

    listing = api.get("/admin/scheduling/patient/").content.decode()
    page = api.get(f"/admin/scheduling/patient/{patient.pk}/change/").content.decode()
    found = api.get("/admin/scheduling/patient/?q=98123%2045678").content.decode()

    assert "Ravi Kumar" in listing and "••••••5678" in listing
    assert "98123" not in listing and "45678" not in listing
    assert "Ravi Kumar" in page
    assert AuditEntry.objects.filter(action="patient.read", target=f"patient:{patient.pk}").exists()
    listed = AuditEntry.objects.filter(action="patient.list", actor_id=owner.pk)
    assert [e.detail["patients"] for e in listed] == [[patient.pk], [patient.pk]]
    assert f"/admin/scheduling/patient/{patient.pk}/change/" in found


def test_adding_a_doctor_in_the_admin_uses_the_command(
    api: HostClient, lead: User, main_branch: Branch
) -> None:
    api.force_login(lead)

    response = api.post(
        "/admin/scheduling/doctor/add/",
        {
            "branch": main_branch.pk,
            "name": "Dr. Admin",
            "specialty": "ENT",
            "slot_minutes": 20,
            "consultation_fee": "450.00",
            "weekly_hours": '[{"weekday": 1, "start": "10:00", "end": "12:00"}]',
        },
    )
    refused = api.post(
        "/admin/scheduling/doctor/add/",
        {
            "branch": main_branch.pk,
            "name": "Dr. Bad",
            "specialty": "ENT",
            "slot_minutes": 1,
            "consultation_fee": "450.00",
            "weekly_hours": "[]",
        },
    )

    assert response.status_code == 302
    assert Event.objects.filter(type="DoctorAdded", data__weekly_hours__0__start="10:00").exists()
    assert refused.status_code == 200 and "5 to 240 minutes" in refused.content.decode()


def test_the_week_dashboard_charts_the_chain(
    api: HostClient, owner: User, doctor: Doctor, patient: Patient
) -> None:
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 10))
    api.force_login(owner)

    response = api.get("/admin/reconciliation/dailyclose/week/?week=2027-W01")
    assert response.status_code == 200, response
    page = response.content.decode()

    assert page.count('<svg role="img"') == 3
    assert "Visits" in page and "Main branch" in page


def test_a_doctors_hours_are_changed_through_the_command(
    api: HostClient, lead: User, doctor: Doctor
) -> None:
    api.force_login(lead)

    response = api.post(
        f"/admin/scheduling/doctor/{doctor.pk}/change/",
        {
            "slot_minutes": 30,
            "consultation_fee": "650.00",
            "active": "on",
            "weekly_hours": '[{"weekday": 0, "start": "16:00", "end": "18:00"}]',
        },
    )

    assert response.status_code == 302, response.content.decode()[:500]
    doctor.refresh_from_db()
    assert (doctor.consultation_fee, doctor.weekly_hours[0]["start"]) == (
        Decimal("650.00"),
        "16:00",
    )
    assert Event.objects.filter(type="DoctorUpdated", stream=doctor.stream).exists()
