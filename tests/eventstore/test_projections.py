"""The projection runner: exactly once, replayable, isolated failures, never-stale cache."""

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

import apps.eventstore.projections as projections_module
from apps.eventstore import live, replay
from apps.eventstore.models import Event, ProjectionState
from apps.eventstore.projections import (
    Projection,
    Touched,
    catch_up,
    lag,
    projections,
    register,
    retry,
    run_batch,
    unregister,
)
from apps.scheduling import commands, read
from apps.scheduling.models import Appointment, AppointmentView, Doctor, Patient
from apps.scheduling.projections import appointments
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.scheduling.factories import PatientFactory


def view_rows() -> list[dict[str, Any]]:
    return list(AppointmentView.objects.order_by("appointment_id").values())


@pytest.fixture
def busy_day(doctor: Doctor, patient: Patient) -> list[Appointment]:
    """A morning with every kind of appointment change."""
    made = [
        commands.appointment_book(
            actor=None, doctor=doctor, patient=PatientFactory(), start=ist(4, hour)
        )
        for hour in (9, 10, 11, 12)
    ]
    commands.appointment_check_in(actor=None, appointment=made[0])
    commands.appointment_complete(actor=None, appointment=made[0])
    commands.appointment_cancel(actor=None, appointment=made[1], reason="x")
    commands.appointment_reschedule(actor=None, appointment=made[2], start=ist(5, 9))
    commands.appointment_mark_no_show(actor=None, appointment=made[3], now=ist(4, 12, 20))
    commands.appointment_follow_up(actor=None, appointment=made[0], start=ist(11, 9))
    return made


def test_catch_up_builds_the_read_model_from_the_log(busy_day: list[Appointment]) -> None:
    result = catch_up(["appointments"])["appointments"]

    assert result.position == Event.objects.latest("position").position
    rows = {row["appointment_id"]: row for row in view_rows()}
    for appointment in Appointment.objects.all():
        row = rows[appointment.pk]
        assert (row["status"], row["start"], row["doctor_id"], row["patient_id"]) == (
            appointment.status,
            appointment.start,
            appointment.doctor_id,
            appointment.patient_id,
        )
    assert rows[busy_day[2].pk]["date"].isoformat() == "2027-01-05"
    assert lag()["appointments"]["lag"] == 0


def test_a_second_run_applies_nothing_twice(busy_day: list[Appointment]) -> None:
    catch_up()
    before = view_rows()

    again = catch_up()["appointments"]

    assert again.applied == 0
    assert view_rows() == before


def test_a_run_that_dies_mid_batch_leaves_no_trace_and_a_rerun_gives_the_same_rows(
    busy_day: list[Appointment], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _rows_of_a_clean_rebuild()
    ProjectionState.objects.filter(name="appointments").delete()
    AppointmentView.objects.all().delete()
    real_apply_batch = type(appointments).apply_batch

    def dies_after_writing(self: Projection, events: list[Event], touched: Touched) -> None:
        real_apply_batch(self, events, touched)
        assert AppointmentView.objects.exists()  # rows written, transaction still open
        raise SystemExit("worker killed")  # not an Exception: nothing may catch it

    monkeypatch.setattr(type(appointments), "apply_batch", dies_after_writing)
    with pytest.raises(SystemExit):
        run_batch(appointments)
    assert AppointmentView.objects.count() == 0
    assert ProjectionState.objects.get(name="appointments").position == 0

    monkeypatch.setattr(type(appointments), "apply_batch", real_apply_batch)
    catch_up(["appointments"])

    assert view_rows() == expected


def _rows_of_a_clean_rebuild() -> list[dict[str, Any]]:
    replay.rebuild(appointments)
    return view_rows()


def test_replay_reproduces_the_incremental_read_model(
    doctor: Doctor, patient: Patient, busy_day: list[Appointment]
) -> None:
    # Built a few events at a time, as live runs would ...
    catch_up(batch_size=2)
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(6, 9))
    catch_up(batch_size=3)
    incremental = view_rows()

    assert replay.check(appointments) == []
    replay.rebuild(appointments)

    assert view_rows() == incremental


def test_check_reports_a_read_model_that_drifted(busy_day: list[Appointment]) -> None:
    catch_up()
    row = AppointmentView.objects.first()
    assert row is not None
    row.status = "completed" if row.status != "completed" else "booked"
    row.save()

    differences = replay.check(appointments)

    assert [(d.table, d.only_live, d.only_rebuilt) for d in differences] == [
        ("scheduling_appointmentview", 1, 1)
    ]
    assert AppointmentView.objects.get(pk=row.pk).status == row.status  # live left alone


def test_a_rebuild_from_a_snapshot_equals_a_full_rebuild(
    doctor: Doctor, patient: Patient, busy_day: list[Appointment]
) -> None:
    catch_up()
    snap = replay.snapshot(appointments)
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(6, 9))
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(6, 10))
    full = _rows_of_a_clean_rebuild()

    reached = replay.rebuild(appointments, from_snapshot=True)

    assert snap.position < reached == Event.objects.latest("position").position
    assert view_rows() == full


class Flaky(Projection):
    """Notes the events it handles; fails on the poisoned ones until they are cured."""

    name = "test-flaky"
    handles = frozenset({"AppointmentBooked"})
    read_models = ()
    poison: set[int] = set()
    applied: set[int] = set()

    def apply(self, event: Event, touched: Touched) -> None:
        if event.position in self.poison:
            raise ValueError("cannot handle this event")
        self.applied.add(event.position)


@pytest.fixture
def flaky() -> Iterator[Flaky]:
    projection = register(Flaky())
    Flaky.poison, Flaky.applied = set(), set()
    yield projection
    unregister(projection.name)


def test_a_poison_event_parks_only_its_projection(
    flaky: Flaky, doctor: Doctor, patient: Patient
) -> None:
    first = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    poison = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    after = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 11))
    Flaky.poison = {poison.position}

    results = catch_up()

    state = ProjectionState.objects.get(name="test-flaky")
    assert results["test-flaky"].parked
    assert (state.status, state.parked_position, state.parked_type) == (
        "parked",
        poison.position,
        "AppointmentBooked",
    )
    assert "cannot handle this event" in state.error
    assert first.position in Flaky.applied
    assert poison.position not in Flaky.applied
    assert after.position not in Flaky.applied
    assert state.position == poison.position - 1
    # The other projection of the same tenant went on to the head.
    assert results["appointments"].position == after.position
    assert AppointmentView.objects.filter(appointment_id=after.pk).exists()
    assert lag()["test-flaky"]["status"] == "parked"


def test_a_retried_park_resumes_from_the_parked_event(
    flaky: Flaky, doctor: Doctor, patient: Patient
) -> None:
    poison = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    after = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    Flaky.poison = {poison.position}
    catch_up(["test-flaky"])
    Flaky.poison = set()  # the handler is fixed ...
    assert catch_up(["test-flaky"])["test-flaky"].parked  # ... but it stays parked until retried

    retry("test-flaky")
    result = catch_up(["test-flaky"])["test-flaky"]

    assert not result.parked
    assert {poison.position, after.position} <= Flaky.applied
    assert ProjectionState.objects.get(name="test-flaky").position == after.position


def test_a_parked_projection_in_one_tenant_leaves_other_tenants_running(
    flaky: Flaky, doctor: Doctor, patient: Patient, other_tenant: Tenant
) -> None:
    poison = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    Flaky.poison = {poison.position}
    catch_up(["test-flaky"])

    with schema_context(other_tenant.schema_name):
        result = catch_up(["test-flaky"])["test-flaky"]
        other_state = ProjectionState.objects.get(name="test-flaky")

    assert not result.parked
    assert other_state.status == "running"
    assert ProjectionState.objects.get(name="test-flaky").status == "parked"


def test_every_registered_projection_declares_what_it_handles() -> None:
    for projection in projections():
        assert projection.handles, projection.name


def test_a_live_push_goes_out_only_after_the_read_cache_moved_on(
    doctor: Doctor, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A screen that hears the push reads the board at once: it must find the change, not the
    # board cached before it (the race a fast pooled web process lost in the browser test).
    day = ist(5, 9).date()
    assert read.branch_board(doctor.branch, day)["appointments"] == []  # cached now
    boards_heard: list[dict[str, Any]] = []

    def hear(channel: str, event_type: str, data: dict[str, Any]) -> None:
        boards_heard.append(read.branch_board(doctor.branch, day))

    monkeypatch.setattr(live, "send_event", hear)
    booked = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))

    catch_up()

    assert [[row["id"] for row in board["appointments"]] for board in boards_heard] == [[booked.pk]]


def test_a_run_asks_for_another_when_events_came_after_what_it_applied(
    doctor: Doctor, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # While this run holds the projections, a booking commits: its own run would find them
    # held and count on this one, so this one must ask for another when it lets go.
    asked: list[str] = []
    monkeypatch.setattr(projections_module, "_left_behind_hooks", [lambda: asked.append("run")])
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    catch_up()
    assert asked == []  # nothing came after: no second run

    real_apply_batch = type(appointments).apply_batch
    booked_meanwhile: list[Appointment] = []

    def a_booking_meanwhile(self: Projection, events: list[Event], touched: Touched) -> None:
        real_apply_batch(self, events, touched)
        if not booked_meanwhile:
            booked_meanwhile.append(
                commands.appointment_book(
                    actor=None, doctor=doctor, patient=patient, start=ist(5, 10)
                )
            )

    monkeypatch.setattr(type(appointments), "apply_batch", a_booking_meanwhile)
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 11))
    catch_up()

    assert booked_meanwhile and asked == ["run"]
    monkeypatch.setattr(type(appointments), "apply_batch", real_apply_batch)
    catch_up()
    assert AppointmentView.objects.filter(pk=booked_meanwhile[0].pk).exists()
