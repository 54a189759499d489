"""The doctor's queue: call next in token order, start and end as events, waiting and
consultation times, the doctor app's API and who may use it."""

from datetime import timedelta

import pytest
import time_machine

from apps.clinic.models import Branch, User
from apps.core.errors import Conflict
from apps.eventstore.models import Event
from apps.eventstore.projections import catch_up
from apps.queue import commands, events
from apps.queue.read import doctor_queue
from apps.scheduling.models import Appointment, Doctor
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.conftest import client_for
from tests.queue.conftest import CheckIn
from tests.scheduling.factories import DoctorFactory, PatientFactory


def test_call_next_calls_the_lowest_waiting_token_then_the_next(
    my_doctor: Doctor, doctor_user: User, checked_in: CheckIn
) -> None:
    second = checked_in(my_doctor, 9, 30)
    first_booked_later = checked_in(my_doctor, 10)  # checked in second, token 2
    third = checked_in(my_doctor, 9)

    called = [commands.queue_call_next(actor=doctor_user, doctor=my_doctor) for _ in range(3)]

    assert [c.appointment_id for c in called] == [second.pk, first_booked_later.pk, third.pk]
    with pytest.raises(Conflict, match="Nobody is waiting"):
        commands.queue_call_next(actor=doctor_user, doctor=my_doctor)


def test_start_and_end_are_events_and_end_completes_the_visit(
    my_doctor: Doctor, doctor_user: User, checked_in: CheckIn
) -> None:
    visit = checked_in(my_doctor, 9)
    commands.queue_call_next(actor=doctor_user, doctor=my_doctor)
    commands.consultation_start(actor=doctor_user, appointment=visit)
    commands.consultation_end(actor=doctor_user, appointment=visit)

    kinds = list(
        Event.objects.filter(stream__startswith="consultation-").values_list("type", flat=True)
    )
    visit.refresh_from_db()
    assert kinds == [events.PATIENT_CALLED, events.CONSULTATION_STARTED, events.CONSULTATION_ENDED]
    assert visit.status == Appointment.Status.COMPLETED


def test_steps_out_of_order_are_refused(
    my_doctor: Doctor, doctor_user: User, checked_in: CheckIn
) -> None:
    visit = checked_in(my_doctor, 9)
    with pytest.raises(Conflict, match="Start the consultation first"):
        commands.consultation_end(actor=doctor_user, appointment=visit)
    commands.consultation_start(actor=doctor_user, appointment=visit)
    with pytest.raises(Conflict, match="already started"):
        commands.patient_call(actor=doctor_user, appointment=visit)


def test_waiting_and_consultation_times_come_from_the_events(
    my_doctor: Doctor,
    doctor_user: User,
    checked_in: CheckIn,
    monday_morning: time_machine.Coordinates,
) -> None:
    visit = checked_in(my_doctor, 9)  # checked in at 08:00
    monday_morning.move_to(ist(4, 8, 20))
    commands.queue_call_next(actor=doctor_user, doctor=my_doctor)
    monday_morning.move_to(ist(4, 8, 24))
    commands.consultation_start(actor=doctor_user, appointment=visit)
    monday_morning.move_to(ist(4, 8, 36))
    commands.consultation_end(actor=doctor_user, appointment=visit)
    catch_up()

    queue = doctor_queue(my_doctor)

    row = queue["patients"][0]
    assert (row["token"], row["stage"]) == (1, "done")
    assert row["waiting_minutes"] == 24.0
    assert row["consultation_minutes"] == 12.0
    assert (queue["average_waiting_minutes"], queue["average_consultation_minutes"]) == (24.0, 12.0)


def test_a_patient_still_waiting_counts_their_wait_up_to_now(
    my_doctor: Doctor, checked_in: CheckIn, monday_morning: time_machine.Coordinates
) -> None:
    checked_in(my_doctor, 9)
    catch_up()
    monday_morning.shift(timedelta(minutes=7))

    row = doctor_queue(my_doctor)["patients"][0]

    assert (row["stage"], row["waiting_minutes"], row["consultation_minutes"]) == (
        "waiting",
        7.0,
        None,
    )


def test_queue_events_name_tokens_and_ids_never_the_patient(
    my_doctor: Doctor, doctor_user: User, checked_in: CheckIn
) -> None:
    patient = PatientFactory(name="Kamala Devi", phone="+919876501234")
    visit = checked_in(my_doctor, 9, patient=patient)
    commands.queue_call_next(actor=doctor_user, doctor=my_doctor)
    commands.consultation_start(actor=doctor_user, appointment=visit)

    for event in Event.objects.filter(stream__startswith="consultation-"):
        assert set(event.data) == {
            "id", "appointment_id", "doctor_id", "branch_id", "token", "stage", "calls",
        }  # fmt: skip
        assert "Kamala" not in str(event.data)
        assert "9876501234" not in str(event.data)


def test_the_doctor_app_reads_its_queue_and_calls_starts_and_ends(
    tenant: Tenant, my_doctor: Doctor, doctor_user: User, checked_in: CheckIn
) -> None:
    visit = checked_in(my_doctor, 9)
    app = client_for(doctor_user, tenant)

    called = app.post("/api/v1/doctors/me/queue/next/")
    started = app.post(f"/api/v1/appointments/{visit.pk}/start/")
    queue = app.get("/api/v1/doctors/me/queue/").json()
    ended = app.post(f"/api/v1/appointments/{visit.pk}/end/")
    nobody = app.post("/api/v1/doctors/me/queue/next/")

    assert called.status_code == 200
    assert (called.json()["token"], called.json()["stage"], called.json()["calls"]) == (
        1,
        "called",
        1,
    )
    assert called.json()["position"] > 0
    assert started.json()["stage"] == "started"
    assert queue["serving"] == visit.pk
    assert [(p["token"], p["stage"]) for p in queue["patients"]] == [(1, "started")]
    assert ended.json()["stage"] == "ended"
    assert nobody.status_code == 409


def test_another_doctors_patient_and_another_tenants_are_not_found(
    tenant: Tenant,
    other_tenant: Tenant,
    main_branch: Branch,
    doctor_user: User,
    my_doctor: Doctor,
    checked_in: CheckIn,
) -> None:
    colleague = DoctorFactory(branch=main_branch)
    theirs = checked_in(colleague, 9)
    app = client_for(doctor_user, tenant)
    elsewhere = client_for(doctor_user, tenant)
    elsewhere.defaults["HTTP_HOST"] = f"{other_tenant.slug}.localhost"

    assert app.post(f"/api/v1/appointments/{theirs.pk}/call/").status_code == 404
    assert elsewhere.post(f"/api/v1/appointments/{theirs.pk}/call/").status_code == 401


def test_front_desk_may_call_but_only_doctors_have_a_queue_of_their_own(
    tenant: Tenant, owner: User, my_doctor: Doctor, checked_in: CheckIn
) -> None:
    visit = checked_in(my_doctor, 9)
    desk = client_for(owner, tenant)

    assert desk.post(f"/api/v1/appointments/{visit.pk}/call/").status_code == 200
    assert desk.get("/api/v1/doctors/me/queue/").status_code == 403
    assert desk.post("/api/v1/doctors/me/queue/next/").status_code == 403
