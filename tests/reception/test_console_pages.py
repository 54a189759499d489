"""The console's pages without a browser: roles, branches, errors that keep what was typed."""

from decimal import Decimal

import pytest

from apps.audit.models import AuditEntry
from apps.clinic.models import Branch, Role
from apps.scheduling import commands, waitlist
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory, UserFactory
from tests.clock import ist
from tests.conftest import HostClient
from tests.scheduling.factories import PatientFactory

pytestmark = pytest.mark.usefixtures("monday_morning")


@pytest.fixture
def desk(api: HostClient, main_branch: Branch) -> HostClient:
    api.force_login(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]))
    return api


def test_the_board_lists_todays_visits_with_names_and_audits_the_read(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 10))
    from apps.eventstore.projections import catch_up

    catch_up()
    page = desk.get(f"/reception/branches/{main_branch.pk}/").content.decode()

    assert "Ravi Kumar" in page and "Dr. Kavita Menon" in page and "10:00" in page
    assert 'sse-connect="/events/branches/' in page
    assert AuditEntry.objects.filter(action="patient.list", detail__patients=[patient.pk]).exists()


def test_an_htmx_action_answers_with_the_board_fragment(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 10))

    response = desk.post(
        f"/reception/branches/{main_branch.pk}/appointments/{visit.pk}/check-in/",
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "Checked in Ravi Kumar with Dr. Kavita Menon on Mon 4 Jan 2027 at 10:00." in html
    assert Appointment.objects.get(pk=visit.pk).status == "checked_in"


def test_a_refused_action_says_why(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))

    response = desk.post(
        f"/reception/branches/{main_branch.pk}/appointments/{visit.pk}/check-in/",
        HTTP_HX_REQUEST="true",
    )

    assert "only on the day of the appointment" in response.content.decode()


def test_registration_errors_keep_what_was_typed(desk: HostClient, main_branch: Branch) -> None:
    response = desk.post(
        f"/reception/branches/{main_branch.pk}/patients/", {"name": "Meena Das", "phone": "12"}
    )

    html = response.content.decode()
    assert "country code" in html
    assert 'value="Meena Das"' in html


def test_overpaying_shows_the_error_on_the_amount(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 10))

    response = desk.post(
        f"/reception/branches/{main_branch.pk}/appointments/{visit.pk}/pay/",
        {"form": "payment", "kind": "deposit", "amount": "900.00", "method": "cash"},
    )

    assert "more than the balance due" in response.content.decode()
    assert 'value="900.00"' in response.content.decode()


def test_the_console_keeps_to_front_desk_roles_and_their_branches(
    api: HostClient, tenant: Tenant, main_branch: Branch
) -> None:
    elsewhere = BranchFactory()
    api.force_login(UserFactory(role=Role.DOCTOR, branches=[main_branch]))
    assert api.get(f"/reception/branches/{main_branch.pk}/").status_code == 403
    api.force_login(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]))
    for page in ("", "patients/", "book/?patient=1", "declare/"):
        assert api.get(f"/reception/branches/{elsewhere.pk}/{page}").status_code == 404, page


def test_the_day_end_count_is_declared(desk: HostClient, main_branch: Branch) -> None:
    response = desk.post(
        f"/reception/branches/{main_branch.pk}/declare/", {"count-cash": "1200.50"}
    )

    assert response.status_code == 302
    from apps.reconciliation.models import Declaration

    assert Declaration.objects.get().amount == Decimal("1200.50")


def test_reschedule_moves_the_visit_to_a_chosen_free_slot(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 10))
    other = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 11))
    url = f"/reception/branches/{main_branch.pk}/appointments/{visit.pk}/reschedule/"

    page = desk.get(f"{url}?date=2027-01-05").content.decode()
    moved = desk.post(url, {"start": "2027-01-05T11:00:00+05:30"})
    clash = desk.post(
        f"/reception/branches/{main_branch.pk}/appointments/{other.pk}/reschedule/",
        {"start": "2027-01-05T11:00:00+05:30"},
    )

    assert "Free slots on Tue 5 Jan 2027" in page and "11:00" in page
    assert moved.status_code == 302
    assert Appointment.objects.get(pk=visit.pk).start == ist(5, 11)
    assert "already taken" in clash.content.decode()
    assert Appointment.objects.get(pk=other.pk).start == ist(4, 11)


def test_the_slot_picker_offers_a_held_slot_only_to_its_waitlisted_patient(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    other = PatientFactory(name="Asha Rao", phone="+919800000088")
    taken = commands.appointment_book(actor=None, doctor=doctor, patient=other, start=ist(5, 9))
    waitlist.waitlist_join(actor=None, doctor=doctor, patient=patient, day=ist(5, 9).date())
    commands.appointment_cancel(actor=None, appointment=taken, reason="unwell")  # held for patient
    query = f"doctor={doctor.pk}&date=2027-01-05"

    holder = desk.get(f"/reception/branches/{main_branch.pk}/book/?patient={patient.pk}&{query}")
    others = desk.get(f"/reception/branches/{main_branch.pk}/book/?patient={other.pk}&{query}")

    assert "2027-01-05T03:30:00+00:00" in holder.content.decode()  # 09:00 IST
    assert "2027-01-05T03:30:00+00:00" not in others.content.decode()
