"""The board at OPD scale, server side: one page of the day at a time, filters in the query
string, counts per status, a search by token, reference or name (audited), waiting times, and
an action that answers with the page the desk was looking at. On the suite's frozen Monday."""

import re
from collections import Counter
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.bench.opdday import OpdDay, patient_name, seed_opd_day
from apps.board.selectors import PAGE_SIZE
from apps.clinic.models import Branch, Role
from apps.eventstore.projections import catch_up
from apps.queue.models import QueueEntry
from apps.scheduling import commands
from apps.scheduling.models import AppointmentView, Doctor, Patient
from tests.clinic.factories import UserFactory
from tests.conftest import HostClient

DOCTORS, VISITS, DEPARTMENTS = 6, 130, 3


@pytest.fixture(autouse=True)
def on_monday_morning(monday_morning: time_machine.Coordinates) -> None:
    """Every test here runs on the suite's frozen Monday morning (`tests/conftest.py`)."""


@pytest.fixture
def day(main_branch: Branch) -> OpdDay:
    return seed_opd_day(main_branch, doctors=DOCTORS, visits=VISITS, departments=DEPARTMENTS)


@pytest.fixture
def desk(api: HostClient, main_branch: Branch) -> HostClient:
    api.force_login(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]))
    return api


def board(client: HostClient, branch: Branch, query: str = "", **headers: str) -> str:
    response = client.get(f"/reception/branches/{branch.pk}/?{query}", **headers)
    assert response.status_code == 200
    return str(response.content.decode())


def row_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="row-\d+" data-appointment="(\d+)"', page)]


def shown_counts(page: str) -> dict[str, int]:
    return {s: int(n) for s, n in re.findall(r'<dd data-status="(\w+)">(\d+)</dd>', page)}


def day_rows(branch: Branch, **where: object) -> list[AppointmentView]:
    return list(
        AppointmentView.objects.filter(branch_id=branch.pk, **where).order_by(
            "start", "appointment_id"
        )
    )


def test_the_board_shows_one_page_of_the_day_in_start_order_with_counts_of_the_whole_day(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    every = day_rows(main_branch)

    first, third = board(desk, main_branch), board(desk, main_branch, "page=3")

    assert len(every) == VISITS
    assert row_ids(first) == [v.appointment_id for v in every[:PAGE_SIZE]]
    assert row_ids(third) == [v.appointment_id for v in every[2 * PAGE_SIZE :]]
    assert shown_counts(first) == {
        **dict.fromkeys(shown_counts(first), 0),
        **Counter(v.status for v in every),
    }
    assert sum(shown_counts(first).values()) == VISITS
    assert (
        f"Visits 1–{PAGE_SIZE} of {VISITS}" in first and f"Visits 101–{VISITS} of {VISITS}" in third
    )
    assert "Page 1 of 3" in first and 'rel="next"' in first and 'rel="prev"' not in first
    assert "Page 3 of 3" in third and 'rel="prev"' in third and 'rel="next"' not in third


def test_a_page_past_the_last_shows_the_last_and_bad_filters_are_form_errors(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    past = board(desk, main_branch, "page=99")
    bad = board(desk, main_branch, "doctor=999999&department=Astrology&status=lost&page=x")

    assert "Page 3 of 3" in past and len(row_ids(past)) == VISITS - 2 * PAGE_SIZE
    assert "Choose a doctor of this branch." in bad and "Choose a department." in bad
    assert "Select a valid choice." in bad
    assert row_ids(bad) == row_ids(board(desk, main_branch))  # nothing valid narrowed it


def test_filtering_by_doctor_shows_only_that_doctors_visits_and_counts(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    doctor = day.doctors[1]
    theirs = day_rows(main_branch, doctor_id=doctor)

    page = board(desk, main_branch, f"doctor={doctor}")

    assert row_ids(page) == [v.appointment_id for v in theirs]
    assert sum(shown_counts(page).values()) == len(theirs) > 0
    assert shown_counts(page)["booked"] == sum(1 for v in theirs if v.status == "booked")


def test_filtering_by_department_shows_the_visits_of_its_doctors(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    department = day.departments[2]
    doctors = set(Doctor.objects.filter(specialty=department).values_list("pk", flat=True))
    theirs = day_rows(main_branch, doctor_id__in=doctors)

    page = board(desk, main_branch, f"department={department}")

    assert len(doctors) == DOCTORS // DEPARTMENTS
    assert row_ids(page) == [v.appointment_id for v in theirs[:PAGE_SIZE]]
    assert sum(shown_counts(page).values()) == len(theirs)


def test_filtering_by_status_keeps_the_counts_of_every_status(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    checked_in = day_rows(main_branch, status="checked_in")

    page = board(desk, main_branch, "status=checked_in")

    assert row_ids(page) == [v.appointment_id for v in checked_in]
    assert shown_counts(page) == shown_counts(board(desk, main_branch))
    assert f"of {len(checked_in)}" in page


def test_a_number_finds_a_token_or_a_reference(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    visit = day_rows(main_branch, status="checked_in")[0]
    token, reference = visit.token, visit.appointment_id

    by_token = board(desk, main_branch, f"doctor={visit.doctor_id}&q=%23{token}")
    by_reference = board(desk, main_branch, f"q={reference}")

    assert row_ids(by_token) == [
        v.appointment_id
        for v in day_rows(main_branch, doctor_id=visit.doctor_id)
        if token in (v.token, v.appointment_id)
    ]
    assert row_ids(by_reference) == [
        v.appointment_id for v in day_rows(main_branch) if reference in (v.token, v.appointment_id)
    ]
    assert visit.appointment_id in row_ids(by_token) and visit.appointment_id in row_ids(
        by_reference
    )


def test_a_name_search_finds_the_patients_visit_and_audits_whom_it_matched(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    wanted = patient_name(77)  # "Given Family"; two others share the given name
    given, family = wanted.split()
    namesakes = [n for n in range(VISITS) if patient_name(n).split()[0] == given]

    page = board(desk, main_branch, f"q={given.lower()}+{family[:2].upper()}")
    everyone = board(desk, main_branch, f"q={given}")

    shown = re.findall(r'<a href="/reception/branches/\d+/appointments/\d+/">([^<]+)</a>', page)
    assert shown == [wanted]
    assert len(namesakes) == 3 and len(row_ids(everyone)) == 3
    searched = AuditEntry.objects.filter(action="patient.search").order_by("id").first()
    listed = AuditEntry.objects.filter(action="patient.list").order_by("id").first()
    assert searched is not None and listed is not None
    assert searched.detail["patients"] == listed.detail["patients"]
    assert len(searched.detail["patients"]) == 1


def test_a_chosen_filter_goes_into_the_address_bar_but_a_searched_name_never_does(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    path = f"/reception/branches/{main_branch.pk}/"
    chosen = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TRIGGER": "board-filters"}
    name = patient_name(5)

    by_token = desk.get(f"{path}?status=checked_in&q=%233&page=1", **chosen)
    by_name = desk.get(f"{path}?status=checked_in&q={name.replace(' ', '+')}", **chosen)
    live = desk.get(f"{path}?status=checked_in", HTTP_HX_REQUEST="true", HTTP_HX_TRIGGER="board")

    assert by_token["HX-Push-Url"] == f"{path}?status=checked_in&q=%233"
    assert by_name["HX-Push-Url"] == f"{path}?status=checked_in"
    assert "HX-Push-Url" not in live  # no history entry for a live re-read
    assert live["HX-Replace-Url"] == f"{path}?status=checked_in"


def test_an_action_during_a_name_search_answers_with_the_searched_page(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    visit = next(v for v in day_rows(main_branch, status="checked_in"))
    name = patient_name(
        sorted({v.patient_id for v in day_rows(main_branch)}).index(visit.patient_id)
    )

    answer = desk.post(
        f"/reception/branches/{main_branch.pk}/appointments/{visit.appointment_id}/complete/",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/reception/branches/{main_branch.pk}/",
        HTTP_X_BOARD_QUERY=urlencode({"q": name}),
    ).content.decode()

    assert row_ids(answer) == [visit.appointment_id]
    assert 'data-status="completed"' in answer


def test_the_page_names_only_its_own_patients_in_the_audit(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    page = board(desk, main_branch)

    listed = AuditEntry.objects.get(action="patient.list")
    shown = {v.patient_id for v in day_rows(main_branch) if v.appointment_id in row_ids(page)}
    assert listed.detail["patients"] == sorted(shown)
    assert len(shown) == PAGE_SIZE


def test_a_waiting_patient_shows_the_minutes_since_check_in_for_the_screen_to_tick(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    waiting = QueueEntry.objects.filter(stage="waiting").order_by("checked_in_at").first()
    assert waiting is not None
    visit = AppointmentView.objects.get(appointment_id=waiting.appointment_id)

    page = board(desk, main_branch, f"doctor={visit.doctor_id}&status=checked_in")

    row = page.split(f'data-appointment="{visit.appointment_id}"')[1].split("</tr>")[0]
    since = int(waiting.checked_in_at.timestamp()) * 1000
    minutes = re.search(r'data-waiting-since="(\d+)"><span data-minutes>(\d+)</span> min', row)
    assert minutes is not None
    assert int(minutes.group(1)) == since
    assert int(minutes.group(2)) == (timezone.now() - waiting.checked_in_at).total_seconds() // 60


def test_the_board_says_when_it_was_updated_and_never_shows_a_position(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    page = board(desk, main_branch, "status=booked")

    assert "updated 08:00:00" in page
    assert "as of #" not in page


def test_an_action_answers_with_the_page_the_desk_was_looking_at(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    doctor = day.doctors[0]
    soon = timezone.now() + timedelta(hours=1)
    visit = day_rows(main_branch, doctor_id=doctor, status="booked", start__lte=soon)[-1]
    here = f"http://testserver/reception/branches/{main_branch.pk}/?doctor={doctor}"

    answer = desk.post(
        f"/reception/branches/{main_branch.pk}/appointments/{visit.appointment_id}/check-in/",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=here,
    ).content.decode()

    assert set(row_ids(answer)) == {
        v.appointment_id for v in day_rows(main_branch, doctor_id=doctor)
    }
    assert f'data-appointment="{visit.appointment_id}" data-status="checked_in"' in answer


def test_a_page_costs_the_same_queries_whatever_the_day_holds(
    desk: HostClient, main_branch: Branch
) -> None:
    seed_opd_day(main_branch, doctors=4, visits=60, departments=2)
    board(desk, main_branch)  # who asks, on which host: kept for a second after
    with CaptureQueriesContext(connection) as small:
        board(desk, main_branch, "status=booked")
    seed_opd_day(main_branch, doctors=8, visits=400, departments=2)
    board(desk, main_branch)
    with CaptureQueriesContext(connection) as large:
        board(desk, main_branch, "status=booked")

    assert len(large.captured_queries) == len(small.captured_queries)
    selected = [
        q["sql"] for q in large.captured_queries if "scheduling_appointmentview" in q["sql"]
    ]
    assert all("LIMIT" in sql or "COUNT(" in sql for sql in selected)


def test_a_name_search_asks_the_same_queries_whatever_the_day_holds(
    desk: HostClient, main_branch: Branch
) -> None:
    wanted = patient_name(3).replace(" ", "+")  # a namesake more in the second, larger day
    seed_opd_day(main_branch, doctors=4, visits=60, departments=2)
    board(desk, main_branch)
    with CaptureQueriesContext(connection) as small:
        few = board(desk, main_branch, f"q={wanted}")
    seed_opd_day(main_branch, doctors=8, visits=400, departments=2)
    board(desk, main_branch)
    with CaptureQueriesContext(connection) as large:
        more = board(desk, main_branch, f"q={wanted}")

    assert (len(row_ids(few)), len(row_ids(more))) == (1, 2)
    assert len(large.captured_queries) == len(small.captured_queries)
    sealed = [q["sql"] for q in large.captured_queries if '"sealed"' in q["sql"]]
    assert len(sealed) == 1  # only the page's own names are opened, not the day's


def test_a_name_search_finds_a_hindi_name_and_a_word_begun_with_one_letter(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    visits = day_rows(main_branch)
    hindi, roman = visits[10], visits[20]
    patients = {p.pk: p for p in Patient.objects.filter(pk__in=[hindi.patient_id])}
    commands.patient_update(actor=None, patient=patients[hindi.patient_id], name="सुनीता देवी")
    catch_up()
    given, family = patient_name(
        sorted({v.patient_id for v in visits}).index(roman.patient_id)
    ).split()

    by_hindi = board(desk, main_branch, urlencode({"q": "देवी सुनी"}))
    by_initial = board(desk, main_branch, urlencode({"q": f"{given} {family[0].lower()}"}))

    assert row_ids(by_hindi) == [hindi.appointment_id]
    assert "सुनीता देवी" in by_hindi
    assert roman.appointment_id in row_ids(by_initial)
    assert all(
        f"{given} {family}" in name
        for name in re.findall(
            r'<a href="/reception/branches/\d+/appointments/\d+/">([^<]+)</a>', by_initial
        )
    )


def test_a_one_letter_search_is_a_form_error_and_shows_the_whole_day(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    page = board(desk, main_branch, "q=a")

    assert "Type a token, a reference or two letters of a name." in page
    assert row_ids(page) == [v.appointment_id for v in day_rows(main_branch)[:PAGE_SIZE]]
    assert not AuditEntry.objects.filter(action="patient.search").exists()
