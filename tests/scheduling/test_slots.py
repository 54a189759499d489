from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import time_machine

from apps.clinic.models import Branch
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.scheduling.slots import Slot, free_slots, slot_grid
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory
from tests.clock import MONDAY, ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import DoctorFactory, DoctorLeaveFactory

BERLIN = ZoneInfo("Europe/Berlin")
MUMBAI = ZoneInfo("Asia/Kolkata")


def local_times(slots: list[Slot], zone: ZoneInfo = MUMBAI) -> list[str]:
    return [slot.start.astimezone(zone).strftime("%H:%M") for slot in slots]


def test_slots_fill_the_working_hours_and_skip_the_break(doctor: Doctor) -> None:
    times = local_times(free_slots(doctor, MONDAY))

    assert times[:3] == ["09:00", "09:30", "10:00"]
    assert "12:30" in times
    assert "13:00" not in times and "13:30" not in times
    assert times[-1] == "16:30"
    assert len(times) == 8 + 6


def test_a_slot_that_would_run_past_the_end_of_hours_is_not_offered(main_branch: Branch) -> None:
    doctor = DoctorFactory(
        branch=main_branch,
        slot_minutes=45,
        weekly_hours=[{"weekday": 0, "start": "09:00", "end": "10:00"}],
    )

    assert local_times(free_slots(doctor, MONDAY)) == ["09:00"]


def test_no_slots_on_a_day_without_hours(doctor: Doctor) -> None:
    assert free_slots(doctor, date(2027, 1, 10)) == []  # a Sunday


def test_leave_removes_every_day_it_covers(doctor: Doctor) -> None:
    DoctorLeaveFactory(doctor=doctor, start_date=date(2027, 1, 5), end_date=date(2027, 1, 6))

    assert free_slots(doctor, date(2027, 1, 5)) == []
    assert free_slots(doctor, date(2027, 1, 6)) == []
    assert free_slots(doctor, date(2027, 1, 7)) != []


def test_a_branch_closure_removes_the_day(doctor: Doctor, main_branch: Branch) -> None:
    commands.branch_closure_add(actor=None, branch=main_branch, day=date(2027, 1, 26))

    assert free_slots(doctor, date(2027, 1, 26)) == []
    assert free_slots(doctor, date(2027, 1, 25)) != []


def test_a_booked_slot_is_not_free_until_cancelled(doctor: Doctor, patient: Patient) -> None:
    booked = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    assert "09:00" not in local_times(free_slots(doctor, date(2027, 1, 5)))

    commands.appointment_cancel(actor=None, appointment=booked, reason="travelling")

    assert "09:00" in local_times(free_slots(doctor, date(2027, 1, 5)))


def test_slots_that_have_started_are_not_offered(doctor: Doctor) -> None:
    with time_machine.travel(ist(4, 10, 10), tick=False):
        assert local_times(free_slots(doctor, MONDAY))[0] == "10:30"


def test_slots_keep_local_hours_across_the_spring_dst_change(tenant: Tenant) -> None:
    berlin = BranchFactory(name="Berlin Mitte", timezone="Europe/Berlin")
    doctor = DoctorFactory(
        branch=berlin,
        slot_minutes=60,
        weekly_hours=[{"weekday": day, "start": "09:00", "end": "11:00"} for day in (5, 6)],
    )

    saturday = slot_grid(doctor, date(2027, 3, 27))
    sunday = slot_grid(doctor, date(2027, 3, 28))  # clocks go forward at 02:00

    assert [s.start.astimezone(BERLIN).isoformat() for s in saturday] == [
        "2027-03-27T09:00:00+01:00",
        "2027-03-27T10:00:00+01:00",
    ]
    assert [s.start.astimezone(BERLIN).isoformat() for s in sunday] == [
        "2027-03-28T09:00:00+02:00",
        "2027-03-28T10:00:00+02:00",
    ]


def test_hours_spanning_the_dst_gap_give_real_length_slots(tenant: Tenant) -> None:
    berlin = BranchFactory(name="Berlin Nacht", timezone="Europe/Berlin")
    doctor = DoctorFactory(
        branch=berlin,
        slot_minutes=60,
        weekly_hours=[{"weekday": 6, "start": "01:00", "end": "04:00"}],
    )

    sunday = slot_grid(doctor, date(2027, 3, 28))

    # 01:00–04:00 on that night lasts two real hours, so there are two one-hour slots.
    assert [s.start.astimezone(BERLIN).isoformat() for s in sunday] == [
        "2027-03-28T01:00:00+01:00",
        "2027-03-28T03:00:00+02:00",
    ]
    assert all((s.end - s.start).total_seconds() == 3600 for s in sunday)


def test_autumn_dst_change_keeps_wall_clock_hours(tenant: Tenant) -> None:
    berlin = BranchFactory(name="Berlin Herbst", timezone="Europe/Berlin")
    doctor = DoctorFactory(
        branch=berlin,
        slot_minutes=30,
        weekly_hours=[{"weekday": 6, "start": "09:00", "end": "10:00"}],
    )

    sunday = slot_grid(doctor, date(2027, 10, 31))  # clocks go back at 03:00

    assert [s.start.astimezone(BERLIN).time() for s in sunday] == [time(9), time(9, 30)]
    assert sunday[0].start == datetime(2027, 10, 31, 8, 0, tzinfo=ZoneInfo("UTC"))


def test_slots_api_answers_in_the_branch_timezone(
    owner: object, tenant: Tenant, doctor: Doctor
) -> None:
    response = client_for(owner, tenant).get(f"/api/v1/doctors/{doctor.pk}/slots/?date=2027-01-05")

    assert response.status_code == 200
    assert response.json()[0] == {
        "start": "2027-01-05T09:00:00+05:30",
        "end": "2027-01-05T09:30:00+05:30",
    }


def test_slots_api_refuses_a_missing_or_bad_date(
    owner: object, tenant: Tenant, doctor: Doctor
) -> None:
    client = client_for(owner, tenant)

    for query in ("", "?date=tomorrow", "?date=2027-02-30"):
        response = client.get(f"/api/v1/doctors/{doctor.pk}/slots/{query}")
        assert response.status_code == 400, query
        assert "date" in response.json()


def test_slots_of_a_doctor_outside_the_callers_branches_are_a_404(
    api: HostClient, tenant: Tenant, doctor: Doctor
) -> None:
    from tests.clinic.factories import UserFactory

    elsewhere = BranchFactory()
    desk = UserFactory(role="receptionist", branches=[elsewhere])

    response = client_for(desk, tenant).get(f"/api/v1/doctors/{doctor.pk}/slots/?date=2027-01-05")

    assert response.status_code == 404
