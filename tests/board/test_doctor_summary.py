"""The per-doctor summary of the day: each doctor's booked, checked in, waiting, with the
doctor and done, the longest wait, the average consultation and the token now served; by
department, a page of doctors at a time, within the desk's branches. Frozen Monday morning."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.bench.opdday import OpdDay, seed_opd_day
from apps.board.selectors import SUMMARY_PAGE_SIZE
from apps.clinic.models import Branch, Role
from apps.queue.models import QueueEntry
from apps.scheduling.models import AppointmentView, Doctor
from tests.clinic.factories import BranchFactory, UserFactory
from tests.conftest import HostClient


@pytest.fixture(autouse=True)
def on_monday_morning(monday_morning: time_machine.Coordinates) -> None:
    """Every test here runs on the suite's frozen Monday morning (`tests/conftest.py`)."""


@pytest.fixture
def day(main_branch: Branch) -> OpdDay:
    return seed_opd_day(main_branch, doctors=60, visits=600, departments=4)


@pytest.fixture
def desk(api: HostClient, main_branch: Branch) -> HostClient:
    api.force_login(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]))
    return api


def summary(client: HostClient, branch: Branch, query: str = "") -> str:
    response = client.get(f"/reception/branches/{branch.pk}/doctors/?{query}")
    assert response.status_code == 200
    return str(response.content.decode())


def shown(page: str, doctor: int) -> dict[str, str]:
    row = page.split(f'<tr data-doctor="{doctor}">')[1].split("</tr>")[0]
    return {
        name: re.sub(r"<[^>]+>", "", value).strip()
        for name, value in re.findall(r'data-field="(\w+)">(.*?)</td>', row)
    }


def doctors_listed(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-doctor="(\d+)">', page)]


def expected(doctor: int, day: OpdDay) -> dict[str, str]:
    """The doctor's row as the read models say it should read, worked out here."""
    visits = list(AppointmentView.objects.filter(doctor_id=doctor, date=day.day))
    queue = list(QueueEntry.objects.filter(doctor_id=doctor, date=day.day))
    waiting = [e.checked_in_at for e in queue if e.stage in ("waiting", "called")]
    consulted = [e.ended_at - e.started_at for e in queue if e.started_at and e.ended_at]
    serving = max(
        (e for e in queue if e.stage in ("called", "started")),
        key=lambda e: (e.called_at, e.token),
        default=None,
    )
    longest = (timezone.now() - min(waiting)).total_seconds() // 60 if waiting else None
    average = sum(consulted, timedelta()) / len(consulted) if consulted else None
    return {
        "booked": str(sum(1 for v in visits if v.status == "booked")),
        "checked_in": str(sum(1 for v in visits if v.status == "checked_in")),
        "waiting": str(sum(1 for e in queue if e.stage == "waiting")),
        "with_doctor": str(sum(1 for e in queue if e.stage == "started")),
        "done": str(sum(1 for v in visits if v.status == "completed")),
        "longest_wait": f"{int(longest)} min" if longest is not None else "—",
        "average_consultation": (
            f"{round(average.total_seconds() / 60, 1)} min" if average is not None else "—"
        ),
        "serving": str(serving.token) if serving else "—",
    }


def test_each_doctor_shows_the_days_numbers_from_the_read_models(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    waiting = QueueEntry.objects.filter(stage="waiting").order_by("doctor_id").first()
    consulted = (
        QueueEntry.objects.filter(started_at__isnull=False, ended_at__isnull=False)
        .order_by("doctor_id")
        .first()
    )
    serving = QueueEntry.objects.filter(stage="started").order_by("doctor_id").first()
    assert waiting is not None and consulted is not None and serving is not None
    doctors = {waiting.doctor_id, consulted.doctor_id, serving.doctor_id}
    pages = {
        doctor: summary(desk, main_branch, f"department={Doctor.objects.get(pk=doctor).specialty}")
        for doctor in doctors
    }

    assert {d: shown(pages[d], d) for d in doctors} == {d: expected(d, day) for d in doctors}
    assert shown(pages[waiting.doctor_id], waiting.doctor_id)["longest_wait"] != "—"
    assert shown(pages[consulted.doctor_id], consulted.doctor_id)["average_consultation"] != "—"
    assert shown(pages[serving.doctor_id], serving.doctor_id)["serving"] != "—"


def test_the_summary_filters_by_department_and_pages_through_the_doctors(
    desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    names = list(Doctor.objects.filter(branch=main_branch).order_by("name", "id"))
    department = day.departments[1]
    theirs = [d.pk for d in names if d.specialty == department]

    first, second = summary(desk, main_branch), summary(desk, main_branch, "page=2")
    narrowed = summary(desk, main_branch, f"department={department}")

    assert doctors_listed(first) == [d.pk for d in names[:SUMMARY_PAGE_SIZE]]
    assert doctors_listed(second) == [d.pk for d in names[SUMMARY_PAGE_SIZE:]]
    assert "Page 2 of 2" in second and "Doctors 51–60 of 60" in second
    assert doctors_listed(narrowed) == theirs and len(theirs) == 15


def test_the_summary_names_no_patient_and_stays_in_the_desks_branches(
    api: HostClient, desk: HostClient, main_branch: Branch, day: OpdDay
) -> None:
    elsewhere = UserFactory(role=Role.RECEPTIONIST, branches=[BranchFactory()])
    page = summary(desk, main_branch, "department=Nowhere")

    api.force_login(elsewhere)
    other_branch = api.get(f"/reception/branches/{main_branch.pk}/doctors/")
    api.force_login(UserFactory(role=Role.DOCTOR, branches=[main_branch]))
    doctor = api.get(f"/reception/branches/{main_branch.pk}/doctors/")

    assert "Choose a department." in page and len(doctors_listed(page)) == SUMMARY_PAGE_SIZE
    assert other_branch.status_code == 404 and doctor.status_code == 403
    assert "/appointments/" not in page
