"""The desk's calendar, visit and patient pages, and the console's guard rails: any date,
clear confirmations, tenancy and branches, no 500 on bad input."""

import re
from collections import Counter
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEntry
from apps.clinic.models import Branch, Role
from apps.eventstore.models import Event, ProjectionState
from apps.eventstore.projections import catch_up
from apps.reconciliation.models import Declaration
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory, UserFactory
from tests.clock import ist
from tests.conftest import HostClient
from tests.scheduling.factories import AppointmentFactory, DoctorFactory, PatientFactory

pytestmark = pytest.mark.usefixtures("monday_morning")


@pytest.fixture
def desk(api: HostClient, main_branch: Branch) -> HostClient:
    api.force_login(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]))
    return api


def base(branch: Branch) -> str:
    return f"/reception/branches/{branch.pk}"


def book(doctor: Doctor, patient: Patient, day: int, hour: int, minute: int = 0) -> Appointment:
    return AppointmentFactory(doctor=doctor, patient=patient, start=ist(day, hour, minute))


def ids_of(html: str) -> list[str]:
    return re.findall(r'\sid="([^"]+)"', html)


# The calendar


def test_the_day_view_shows_any_date_with_each_visit_linked_to_its_page(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    tomorrow = book(doctor, patient, 5, 10, 30)
    book(doctor, PatientFactory(name="Asha Rao"), 6, 9)  # another day: not shown
    catch_up()

    page = desk.get(f"{base(main_branch)}/calendar/?date=2027-01-05").content.decode()

    assert "Tue 5 Jan 2027" in page
    assert "10:30" in page and "Ravi Kumar" in page and "Dr. Kavita Menon" in page
    assert f'href="{base(main_branch)}/appointments/{tomorrow.pk}/"' in page
    assert "Asha Rao" not in page
    assert "?date=2027-01-04&amp;view=day" in page and "?date=2027-01-06&amp;view=day" in page
    assert AuditEntry.objects.filter(action="patient.list", detail__patients=[patient.pk]).exists()


def test_the_week_view_runs_monday_to_sunday_and_filters_by_doctor(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    other = DoctorFactory(branch=main_branch, name="Dr. Neha Joshi")
    book(doctor, patient, 6, 9)
    book(other, PatientFactory(name="Asha Rao"), 8, 10)
    book(doctor, PatientFactory(name="Next Week"), 11, 9)
    catch_up()

    week = desk.get(f"{base(main_branch)}/calendar/?date=2027-01-07&view=week").content.decode()
    one = desk.get(
        f"{base(main_branch)}/calendar/?date=2027-01-07&view=week&doctor={other.pk}"
    ).content.decode()

    assert "Week of Mon 4 Jan 2027" in week and "Sun 10 Jan 2027" in week
    assert "Ravi Kumar" in week and "Asha Rao" in week and "Next Week" not in week
    assert "Asha Rao" in one and "Ravi Kumar" not in one
    assert "?date=2027-01-11&amp;view=week" in week


def test_the_calendar_reads_the_visits_in_a_fixed_number_of_queries(
    desk: HostClient, main_branch: Branch, doctor: Doctor
) -> None:
    for hour in (9, 10):
        book(doctor, PatientFactory(), 5, hour)
    catch_up()
    url = f"{base(main_branch)}/calendar/?date=2027-01-05&view=week"
    desk.get(url)  # sessions, caches and the like settle on the first request

    with CaptureQueriesContext(connection) as few:
        first = desk.get(url)
    for hour in (11, 12, 14, 15, 16):
        book(doctor, PatientFactory(), 6, hour)
    catch_up()
    with CaptureQueriesContext(connection) as many:
        second = desk.get(url)

    assert first.content.decode().count("data-appointment=") == 2
    assert second.content.decode().count("data-appointment=") == 7

    # Unsealing each patient's name reads the tenant key (the crypto layer's cost, the board
    # pays it too); the calendar's own reads do not grow with the visits.
    def own(queries: CaptureQueriesContext) -> list[str]:
        return [q["sql"] for q in queries.captured_queries if "core_tenantkey" not in q["sql"]]

    assert len(own(many)) == len(own(few))
    assert sum("scheduling_appointmentview" in sql for sql in own(many)) == 1


@pytest.mark.parametrize(
    "query",
    [
        "date=garbage",
        "date=9999-12-31",
        "date=0001-01-01",
        "view=year",
        "doctor=abc",
        "doctor=999999",
        "date=2027-02-30&view=week",
    ],
)
def test_bad_calendar_queries_are_form_errors_not_500s(
    desk: HostClient, main_branch: Branch, query: str
) -> None:
    response = desk.get(f"{base(main_branch)}/calendar/?{query}")

    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()


def test_another_branchs_or_tenants_visit_and_patient_pages_are_404(
    desk: HostClient,
    main_branch: Branch,
    doctor: Doctor,
    patient: Patient,
    other_tenant: Tenant,
) -> None:
    elsewhere = BranchFactory(name="Bandra")
    theirs = book(DoctorFactory(branch=elsewhere), patient, 5, 10)
    foreign = HostClient(f"{other_tenant.slug}.localhost")
    foreign.cookies = desk.cookies  # the desk's session, taken to another clinic's host

    assert desk.get(f"{base(main_branch)}/appointments/{theirs.pk}/").status_code == 404
    assert desk.get(f"{base(elsewhere)}/appointments/{theirs.pk}/").status_code == 404
    assert desk.get(f"{base(elsewhere)}/calendar/").status_code == 404
    assert desk.get(f"{base(elsewhere)}/patients/{patient.pk}/").status_code == 404
    assert desk.get(f"{base(main_branch)}/patients/999999/").status_code == 404
    other = foreign.get(f"{base(main_branch)}/calendar/")
    assert other.status_code == 302 and other["Location"].startswith("/login/")


# The visit and patient pages


def test_a_visit_page_offers_what_the_rules_allow_now(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    tomorrow = book(doctor, patient, 5, 10)
    today = book(doctor, PatientFactory(name="Asha Rao"), 4, 10)

    later = desk.get(f"{base(main_branch)}/appointments/{tomorrow.pk}/").content.decode()
    now = desk.get(f"{base(main_branch)}/appointments/{today.pk}/").content.decode()

    assert "Tue 5 Jan 2027 at 10:00" in later and "balance due" in later.lower()
    assert "Check-in opens at 08:00" in later and ">Check in<" not in later
    assert f"/appointments/{tomorrow.pk}/pay/" in later and "Cancel the visit" in later
    assert ">Check in<" in now
    assert "No-show can be marked from 10:15" in now
    assert AuditEntry.objects.filter(action="patient.read", target=f"patient:{patient.pk}").exists()


def test_the_patient_page_lists_upcoming_and_past_visits_with_balances(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    past = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=ist(1, 10), now=ist(1, 8)
    )
    soon = book(doctor, patient, 5, 10)
    elsewhere = book(DoctorFactory(branch=BranchFactory()), patient, 5, 11)
    catch_up()

    page = desk.get(f"{base(main_branch)}/patients/{patient.pk}/").content.decode()

    upcoming, previous = page.split('data-testid="past"')
    assert "Tue 5 Jan 2027 at 10:00" in upcoming and f"/appointments/{soon.pk}/pay/" in upcoming
    assert "500.00" in upcoming  # the fee, nothing paid yet
    assert "Fri 1 Jan 2027 at 10:00" in previous and f"/appointments/{past.pk}/" in previous
    assert f"/appointments/{elsewhere.pk}/" not in page  # a branch the desk does not work at


def test_search_results_name_each_patients_next_visit(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    book(doctor, patient, 6, 9, 30)
    book(doctor, patient, 8, 10)
    catch_up()

    page = desk.post(
        f"{base(main_branch)}/patients/", {"intent": "search", "phone": "98123 45678"}
    ).content.decode()

    assert "next visit Wed 6 Jan 2027 at 09:30 with Dr. Kavita Menon" in page
    assert f"{base(main_branch)}/patients/{patient.pk}/" in page


# Confirmations name the patient, doctor, date and time


def test_booking_confirms_who_with_whom_and_when_and_opens_the_visit(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    response = desk.post(
        f"{base(main_branch)}/book/",
        {"patient": patient.pk, "doctor": doctor.pk, "start": "2027-01-06T10:30:00+05:30"},
        follow=True,
    )

    visit = Appointment.objects.get(patient=patient)
    assert response.redirect_chain[-1][0] == f"{base(main_branch)}/appointments/{visit.pk}/"
    assert (
        "Booked Ravi Kumar with Dr. Kavita Menon on Wed 6 Jan 2027 at 10:30."
        in response.content.decode()
    )


def test_a_second_same_day_booking_warns_and_needs_a_deliberate_confirm(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    first = book(doctor, patient, 6, 9)
    slot = {"patient": patient.pk, "doctor": doctor.pk, "start": "2027-01-06T11:00:00+05:30"}

    warned = desk.post(f"{base(main_branch)}/book/", slot)
    assert Appointment.objects.filter(patient=patient).count() == 1
    confirmed = desk.post(f"{base(main_branch)}/book/", {**slot, "confirm_duplicate": "yes"})

    html = warned.content.decode()
    assert warned.status_code == 200
    assert "already has a visit with Dr. Kavita Menon that day at 09:00" in html
    assert 'name="confirm_duplicate"' in html and "Wed 6 Jan 2027 at 11:00" in html
    assert f"/appointments/{first.pk}/" in html
    assert confirmed.status_code == 302
    assert Appointment.objects.filter(patient=patient, status="booked").count() == 2


def test_moving_and_cancelling_say_from_when_to_when(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    visit = book(doctor, patient, 5, 10)

    moved = desk.post(
        f"{base(main_branch)}/appointments/{visit.pk}/reschedule/",
        {"start": "2027-01-07T11:00:00+05:30"},
        follow=True,
    ).content.decode()
    cancelled = desk.post(
        f"{base(main_branch)}/appointments/{visit.pk}/cancel/",
        {
            f"visit-{visit.pk}-reason": "Going out of town",
            "next": f"{base(main_branch)}/appointments/{visit.pk}/",
        },
        follow=True,
    ).content.decode()

    assert (
        "Moved Ravi Kumar with Dr. Kavita Menon from Tue 5 Jan 2027 at 10:00 "
        "to Thu 7 Jan 2027 at 11:00." in moved
    )
    assert "Cancelled Ravi Kumar with Dr. Kavita Menon on Thu 7 Jan 2027 at 11:00." in cancelled
    assert Appointment.objects.get(pk=visit.pk).cancel_reason == "Going out of town"


def test_an_action_returns_only_to_a_page_of_this_site(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    visit = book(doctor, patient, 4, 10)

    response = desk.post(
        f"{base(main_branch)}/appointments/{visit.pk}/check-in/",
        {"next": "https://evil.example.com/"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"{base(main_branch)}/"


def test_a_desk_change_brings_the_boards_projections_up_to_date_and_leaves_messages_to_the_worker(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    booked = desk.post(
        f"{base(main_branch)}/book/",
        {"patient": patient.pk, "doctor": doctor.pk, "start": "2027-01-04T10:30:00+05:30"},
        HTTP_HX_REQUEST="true",
    ).content.decode()

    head = Event.objects.order_by("-position").values_list("position", flat=True).first()
    positions = dict(ProjectionState.objects.values_list("name", "position"))
    assert "Booked Ravi Kumar with Dr. Kavita Menon on Mon 4 Jan 2027 at 10:30." in booked
    assert ">Ravi Kumar</a>" in booked  # the board fragment already has the new row
    assert positions["appointments"] == head
    assert positions["takings"] == head
    assert positions.get("notifications", 0) < head  # the worker's, not the request's


# No-show: a confirmation step, then an undo the same day


def test_no_show_asks_first_then_marks_and_can_be_undone_from_the_board(
    desk: HostClient,
    main_branch: Branch,
    doctor: Doctor,
    patient: Patient,
    monday_morning: time_machine.Coordinates,
) -> None:
    visit = book(doctor, patient, 4, 9)
    url = f"{base(main_branch)}/appointments/{visit.pk}/"
    board = desk.get(f"{base(main_branch)}/").content.decode()
    assert "confirm=no-show" not in board  # at 08:00 the visit has not even started
    monday_morning.move_to(ist(4, 9, 20))

    one_click = desk.post(f"{url}no-show/")
    asked = desk.get(f"{url}?confirm=no-show").content.decode()
    assert Appointment.objects.get(pk=visit.pk).status == "booked"
    marked = desk.post(f"{url}no-show/", {"confirm": "yes", "next": url}, follow=True)
    catch_up()
    board = desk.get(f"{base(main_branch)}/").content.decode()
    undone = desk.post(f"{url}undo-no-show/", HTTP_HX_REQUEST="true").content.decode()

    assert one_click.status_code == 302 and one_click["Location"] == f"{url}?confirm=no-show"
    assert "Mark Ravi Kumar as a no-show for Mon 4 Jan 2027 at 09:00?" in asked
    assert "Marked as a no-show: Ravi Kumar with Dr. Kavita Menon on Mon 4 Jan 2027 at 09:00." in (
        marked.content.decode()
    )
    assert ">Undo no-show<" in board
    assert "No-show undone, booked again: Ravi Kumar" in undone
    assert Appointment.objects.get(pk=visit.pk).status == "booked"


def test_the_board_shows_check_in_only_inside_its_window(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    soon = book(doctor, patient, 4, 9, 30)
    later = book(doctor, PatientFactory(name="Asha Rao"), 4, 12)
    catch_up()

    page = desk.get(f"{base(main_branch)}/").content.decode()
    rows = {m[1]: m[0] for m in re.finditer(r'<tr id="row-(\d+)".*?</tr>', page, re.S)}

    assert ">Check in<" in rows[str(soon.pk)]
    assert ">Check in<" not in rows[str(later.pk)]


# Smaller: the day-end count in one submit, unique ids, the freshness line


def test_the_day_end_count_declares_every_method_in_one_submit(
    desk: HostClient, main_branch: Branch
) -> None:
    response = desk.post(
        f"{base(main_branch)}/declare/",
        {"count-cash": "1200.50", "count-card": "300.00", "count-upi": "45.00", "count-other": ""},
        follow=True,
    )

    declared = {d.method: d.amount for d in Declaration.objects.all()}
    assert declared == {
        "cash": Decimal("1200.50"),
        "card": Decimal("300.00"),
        "upi": Decimal("45.00"),
    }
    assert "Declared Cash ₹1,200.50, Card ₹300.00, UPI ₹45.00 for Mon 4 Jan 2027." in (
        response.content.decode()
    )


def test_a_bad_amount_in_the_count_is_shown_on_its_field_and_nothing_is_declared(
    desk: HostClient, main_branch: Branch
) -> None:
    response = desk.post(
        f"{base(main_branch)}/declare/", {"count-cash": "12,00", "count-card": "-5"}
    )
    empty = desk.post(f"{base(main_branch)}/declare/", {})

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="field has-error"') == 2
    assert "at least one method" in empty.content.decode()
    assert not Declaration.objects.exists()


@pytest.mark.parametrize(
    "page",
    [
        "",
        "patients/",
        "calendar/?view=week",
        "declare/",
        "book/?patient={patient}",
        "appointments/{visit}/",
        "patients/{patient}/",
    ],
)
def test_every_console_page_has_unique_element_ids(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient, page: str
) -> None:
    visit = book(doctor, patient, 4, 10)
    book(doctor, PatientFactory(), 4, 11)
    catch_up()

    html = desk.get(f"{base(main_branch)}/{page.format(patient=patient.pk, visit=visit.pk)}")

    assert html.status_code == 200
    duplicated = [i for i, n in Counter(ids_of(html.content.decode())).items() if n > 1]
    assert duplicated == []


def test_the_board_says_when_it_was_updated_in_clinic_time(
    desk: HostClient, main_branch: Branch
) -> None:
    page = desk.get(f"{base(main_branch)}/").content.decode()

    assert "Today, Mon 4 Jan 2027" in page
    assert "updated 08:00:00" in page  # 02:30 UTC, in Mumbai
    assert "as of #" not in page


def test_the_patient_search_keeps_the_phone_out_of_the_url(
    desk: HostClient, main_branch: Branch, patient: Patient
) -> None:
    page = desk.get(f"{base(main_branch)}/patients/").content.decode()
    found = desk.post(
        f"{base(main_branch)}/patients/", {"intent": "search", "phone": "98123 45678"}
    )
    by_url = desk.get(f"{base(main_branch)}/patients/?phone=98123 45678").content.decode()

    assert '<form method="post" class="card" role="search">' in page
    assert patient.name in found.content.decode()
    assert patient.name not in by_url  # a phone in the address finds nothing
