"""Doctor's day, branch board and upcoming visits: read models over the API."""

import pytest

from apps.clinic.models import Branch, Role, User
from apps.eventstore.projections import catch_up
from apps.scheduling import commands, read
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory, UserFactory
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import DoctorFactory, PatientFactory


@pytest.fixture
def desk(owner: User, tenant: Tenant) -> HostClient:
    return client_for(owner, tenant)


def test_doctors_day_lists_the_days_appointments_with_its_position(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    first = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))
    second = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 11))
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    catch_up()

    body = desk.get(f"/api/v1/doctors/{doctor.pk}/day/?date=2027-01-04").json()

    assert body["doctor"] == doctor.pk
    assert body["date"] == "2027-01-04"
    assert body["as_of_position"] >= second.position
    assert body["appointments"] == [
        {
            "id": first.pk,
            "start": "2027-01-04T09:00:00+05:30",
            "end": "2027-01-04T09:30:00+05:30",
            "status": "booked",
            "patient": patient.pk,
            "token": None,  # given at check-in
        },
        {
            "id": second.pk,
            "start": "2027-01-04T11:00:00+05:30",
            "end": "2027-01-04T11:30:00+05:30",
            "status": "booked",
            "patient": patient.pk,
            "token": None,
        },
    ]


def test_the_day_defaults_to_today_in_the_branch_timezone(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))
    catch_up()

    body = desk.get(f"/api/v1/doctors/{doctor.pk}/day/").json()

    assert body["date"] == "2027-01-04"
    assert len(body["appointments"]) == 1


def test_board_counts_statuses_and_lists_the_queue(
    desk: HostClient, doctor: Doctor, main_branch: Branch
) -> None:
    patients = [PatientFactory() for _ in range(3)]
    made = [
        commands.appointment_book(actor=None, doctor=doctor, patient=p, start=ist(4, 9 + i))
        for i, p in enumerate(patients)
    ]
    commands.appointment_check_in(actor=None, appointment=made[0])
    commands.appointment_cancel(actor=None, appointment=made[1], reason="x")
    catch_up()

    body = desk.get(f"/api/v1/branches/{main_branch.pk}/board/?date=2027-01-04").json()

    assert body["branch"] == main_branch.pk
    assert body["counts"] == {
        "booked": 1,
        "checked_in": 1,
        "completed": 0,
        "cancelled": 1,
        "no_show": 0,
    }
    assert [row["id"] for row in body["appointments"]] == [a.pk for a in made]
    assert body["appointments"][0]["doctor"] == doctor.pk
    assert body["takings"] == {}


def test_the_cache_never_serves_a_board_older_than_a_committed_change(
    desk: HostClient, doctor: Doctor, patient: Patient, main_branch: Branch
) -> None:
    url = f"/api/v1/branches/{main_branch.pk}/board/?date=2027-01-04"
    first = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))
    catch_up()
    before = desk.get(url).json()
    assert desk.get(url).json() == before  # served from the cache now

    second = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 10))
    catch_up()
    after = desk.get(url).json()

    assert before["as_of_position"] < second.position <= after["as_of_position"]
    assert [row["id"] for row in after["appointments"]] == [first.pk, second.pk]


def test_a_read_before_the_projection_ran_says_how_current_it_is(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    booked = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))

    body = desk.get(f"/api/v1/doctors/{doctor.pk}/day/?date=2027-01-04").json()

    assert body["as_of_position"] < booked.position
    assert body["appointments"] == []


def test_upcoming_visits_of_a_patient(desk: HostClient, doctor: Doctor, patient: Patient) -> None:
    soon = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    gone = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(6, 9))
    commands.appointment_cancel(actor=None, appointment=gone, reason="x")
    catch_up()

    body = desk.get(f"/api/v1/patients/{patient.pk}/upcoming/").json()

    assert [row["id"] for row in body["appointments"]] == [soon.pk]


def test_read_models_refuse_a_bad_date(
    desk: HostClient, doctor: Doctor, main_branch: Branch
) -> None:
    assert desk.get(f"/api/v1/doctors/{doctor.pk}/day/?date=someday").status_code == 400
    assert desk.get(f"/api/v1/branches/{main_branch.pk}/board/?date=2027-13-01").status_code == 400


def test_read_models_hide_other_branches(
    tenant: Tenant, doctor: Doctor, main_branch: Branch
) -> None:
    elsewhere = BranchFactory()
    other = client_for(UserFactory(role=Role.RECEPTIONIST, branches=[elsewhere]), tenant)

    assert other.get(f"/api/v1/doctors/{doctor.pk}/day/").status_code == 404
    assert other.get(f"/api/v1/branches/{main_branch.pk}/board/").status_code == 404
    assert other.get(f"/api/v1/branches/{elsewhere.pk}/board/").status_code == 200


def test_a_doctor_reads_only_their_own_day_and_no_board(
    tenant: Tenant, doctor: Doctor, main_branch: Branch
) -> None:
    login = UserFactory(role=Role.DOCTOR, branches=[main_branch])
    mine = DoctorFactory(branch=main_branch, user=login)
    client = client_for(login, tenant)

    assert client.get(f"/api/v1/doctors/{mine.pk}/day/").status_code == 200
    assert client.get(f"/api/v1/doctors/{doctor.pk}/day/").status_code == 404
    assert client.get(f"/api/v1/branches/{main_branch.pk}/board/").status_code == 403


def test_the_cache_never_serves_a_doctors_day_older_than_a_committed_change(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    url = f"/api/v1/doctors/{doctor.pk}/day/?date=2027-01-04"
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))
    catch_up()
    assert len(desk.get(url).json()["appointments"]) == 1

    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 10))
    catch_up()

    assert len(desk.get(url).json()["appointments"]) == 2


def test_the_apis_cached_json_says_what_the_consoles_read_model_says(
    desk: HostClient, doctor: Doctor, patient: Patient, main_branch: Branch
) -> None:
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))
    catch_up()
    day = ist(4, 9).date()

    board = desk.get(f"/api/v1/branches/{main_branch.pk}/board/?date=2027-01-04")
    doctors_day = desk.get(f"/api/v1/doctors/{doctor.pk}/day/?date=2027-01-04")

    assert board["Content-Type"] == "application/json"
    assert board.json() == read.branch_board(main_branch, day)
    assert doctors_day.json() == read.doctor_day(doctor, day)
