"""Queue tokens: 1, 2, 3… per doctor per day in check-in order, replayable, race-free."""

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import time_machine
from django.db import connection
from django_tenants.utils import schema_context

from apps.clinic.models import Branch, User
from apps.eventstore.models import Event
from apps.eventstore.projections import catch_up, projections
from apps.eventstore.replay import rebuild
from apps.queue.models import QueueEntry
from apps.scheduling import commands
from apps.scheduling.events import APPOINTMENT_CHECKED_IN
from apps.scheduling.models import Appointment, AppointmentView, Doctor
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.conftest import client_for
from tests.queue.conftest import CheckIn
from tests.scheduling.factories import AppointmentFactory, DoctorFactory, PatientFactory


def test_tokens_count_per_doctor_in_check_in_order_not_booking_order(
    main_branch: Branch, checked_in: CheckIn
) -> None:
    first, second = DoctorFactory(branch=main_branch), DoctorFactory(branch=main_branch)
    late = AppointmentFactory(doctor=first, patient=PatientFactory(), start=ist(4, 11))
    a = checked_in(first, 9)
    b = checked_in(second, 9)
    c = commands.appointment_check_in(actor=None, appointment=late, now=late.start)
    d = checked_in(first, 10)
    e = checked_in(second, 10)

    assert [a.token, c.token, d.token] == [1, 2, 3]
    assert [b.token, e.token] == [1, 2]


def test_tokens_start_again_at_one_on_the_next_day(
    main_branch: Branch, checked_in: CheckIn, monday_morning: time_machine.Coordinates
) -> None:
    doctor = DoctorFactory(branch=main_branch)
    assert checked_in(doctor, 9).token == 1
    tuesday = AppointmentFactory(doctor=doctor, patient=PatientFactory(), start=ist(5, 9))
    monday_morning.move_to(ist(5, 8))

    assert commands.appointment_check_in(actor=None, appointment=tuesday).token == 1


def test_the_token_travels_in_the_check_in_event_and_every_later_one(
    doctor: Doctor, checked_in: CheckIn
) -> None:
    visit = checked_in(doctor, 9)
    completed = commands.appointment_complete(actor=None, appointment=visit)

    assert Event.objects.get(type=APPOINTMENT_CHECKED_IN).data["token"] == 1
    assert completed.last_event.data["token"] == 1


def test_check_in_answers_with_the_token_and_the_day_board_and_receipt_show_it(
    tenant: Tenant, owner: User, doctor: Doctor, main_branch: Branch
) -> None:
    visit = AppointmentFactory(doctor=doctor, patient=PatientFactory(), start=ist(4, 9))
    desk = client_for(owner, tenant)

    answer = desk.post(f"/api/v1/appointments/{visit.pk}/check-in/")
    catch_up()
    day = desk.get(f"/api/v1/doctors/{doctor.pk}/day/?date=2027-01-04").json()
    board = desk.get(f"/api/v1/branches/{main_branch.pk}/board/?date=2027-01-04").json()
    desk.force_login(owner)
    receipt = desk.get(f"/reception/appointments/{visit.pk}/invoice/")

    assert answer.status_code == 200
    assert answer.json()["token"] == 1
    assert day["appointments"][0]["token"] == 1
    assert board["appointments"][0]["token"] == 1
    assert '<dd data-testid="receipt-token">1</dd>' in receipt.content.decode()


def test_a_booked_visit_has_no_token_yet(tenant: Tenant, owner: User, doctor: Doctor) -> None:
    AppointmentFactory(doctor=doctor, patient=PatientFactory(), start=ist(4, 9))
    catch_up()

    day = client_for(owner, tenant).get(f"/api/v1/doctors/{doctor.pk}/day/?date=2027-01-04")

    assert day.json()["appointments"][0]["token"] is None


def test_a_rebuild_from_the_log_gives_every_visit_the_same_token(
    main_branch: Branch, checked_in: CheckIn
) -> None:
    first, second = DoctorFactory(branch=main_branch), DoctorFactory(branch=main_branch)
    for hour in (9, 10, 11):
        checked_in(first, hour)
        checked_in(second, hour, 30)
    catch_up()
    before_view = sorted(AppointmentView.objects.values_list("appointment_id", "token"))
    before_queue = sorted(QueueEntry.objects.values_list("appointment_id", "doctor_id", "token"))

    for projection in projections(["appointments", "queue"]):
        rebuild(projection)

    assert sorted(AppointmentView.objects.values_list("appointment_id", "token")) == before_view
    assert (
        sorted(QueueEntry.objects.values_list("appointment_id", "doctor_id", "token"))
        == before_queue
    )
    assert sorted(t for _, d, t in before_queue if d == first.pk) == [1, 2, 3]


CONCURRENT = 12


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_concurrent_check_ins_for_one_doctor_get_tokens_one_to_n_without_a_gap_or_twin(
    committed_tenant: Tenant, django_db_blocker: Any
) -> None:
    with (
        time_machine.travel(ist(4, 8, 55), tick=True),
        django_db_blocker.unblock(),
        schema_context(committed_tenant.schema_name),
    ):
        branch = Branch.objects.get()
        doctor = DoctorFactory(branch=branch, slot_minutes=10)
        visits = [
            AppointmentFactory(
                doctor=doctor,
                patient=PatientFactory(phone=f"+9197100000{n:02d}"),
                start=ist(4, 9 + n // 6, 10 * (n % 6)),
            )
            for n in range(CONCURRENT)
        ]
        together = threading.Barrier(CONCURRENT)

        def check_in(visit: Appointment) -> int | None:
            try:
                with schema_context(committed_tenant.schema_name):
                    together.wait()
                    return commands.appointment_check_in(actor=None, appointment=visit).token
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
            tokens = list(pool.map(check_in, visits))

        stored = list(Appointment.objects.filter(doctor=doctor).values_list("token", flat=True))

    assert sorted(tokens) == list(range(1, CONCURRENT + 1))  # type: ignore[type-var]
    assert sorted(stored) == list(range(1, CONCURRENT + 1))  # type: ignore[type-var]
