"""The cost of the write path: what a booking says to PostgreSQL, and what it must not."""

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.audit import trail
from apps.audit.models import AuditEntry
from apps.core.errors import Conflict
from apps.eventstore.locks import (
    callers_savepoint,
    deferring,
    holding_append_lock,
    in_callers_savepoint,
    in_command,
)
from apps.eventstore.models import AppendBatch, AppendOnlyError, Event, event_appended
from apps.eventstore.store import command
from apps.scheduling import commands, events
from apps.scheduling.models import Appointment, Doctor, DoctorLeave, Patient
from apps.tenants.models import Tenant
from tests.clock import ist


def statements(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in captured.captured_queries]


def test_a_booking_takes_the_append_lock_once_and_no_savepoint_of_its_own(
    tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))

    with CaptureQueriesContext(connection) as captured:
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))

    sql = statements(captured)
    assert sum("pg_advisory_xact_lock" in s for s in sql) == 1
    # The test's own transaction makes the command's block a savepoint; nothing inside adds one.
    assert sum(s.startswith("SAVEPOINT") for s in sql) == 1
    inserts = [s.split('"')[1] for s in sql if s.startswith("INSERT")]
    assert inserts == ["scheduling_appointment", "eventstore_event", "audit_auditentry"]
    assert len(sql) <= 9, sql


def test_the_projection_wake_up_after_commit_leaves_the_search_path_to_the_next_command(
    tenant: Tenant, doctor: Doctor, patient: Patient, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))

    with CaptureQueriesContext(connection) as captured:
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))

    assert callbacks
    assert not [s for s in statements(captured) if s.startswith("SET search_path")]


def test_a_clash_found_by_the_constraint_is_a_conflict_and_leaves_nothing(
    tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    audit_entries = AuditEntry.objects.count()

    with pytest.raises(Conflict, match="already taken"):
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))

    assert Appointment.objects.count() == 1
    assert AuditEntry.objects.count() == audit_entries


def test_a_refused_save_outside_a_command_leaves_the_transaction_usable(
    tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    booked = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    stale = Appointment.objects.get(pk=booked.pk)
    commands.appointment_cancel(actor=None, appointment=booked, reason="ill")

    with transaction.atomic():
        assert not in_command()
        stale.record("AppointmentNoShow", {}, actor=None)
        with pytest.raises(Conflict):
            stale.save()
        # The save had its own savepoint, so this transaction goes on.
        assert Appointment.objects.get(pk=booked.pk).status == Appointment.Status.CANCELLED


def test_a_command_inside_a_command_does_not_lock_again(
    tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    @command
    def book_two() -> None:
        assert in_command()
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))

    with CaptureQueriesContext(connection) as captured:
        book_two()

    assert sum("pg_advisory_xact_lock" in s for s in statements(captured)) == 1
    assert not in_command()
    assert Appointment.objects.count() == 2


def test_commands_inside_a_callers_savepoint_take_none_and_a_failure_undoes_the_savepoint(
    tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    # Outside the append lock it would mean nothing: refused.
    with transaction.atomic(), pytest.raises(RuntimeError), callers_savepoint():
        pass
    with transaction.atomic(), holding_append_lock():
        with CaptureQueriesContext(connection) as inside, transaction.atomic(), callers_savepoint():
            assert in_callers_savepoint()
            commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
            commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
        assert not in_callers_savepoint()
        # The caller's savepoint only: neither booking took one of its own.
        assert sum(s.startswith("SAVEPOINT") for s in statements(inside)) == 1
        booked = Appointment.objects.count()
        audited = AuditEntry.objects.count()
        with (
            pytest.raises(Conflict, match="already taken"),
            transaction.atomic(),
            callers_savepoint(),
        ):
            commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 11))
            commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
        # The failure undid the caller's savepoint, the good booking in it too, and the
        # transaction goes on.
        assert Appointment.objects.count() == booked == 2
        assert AuditEntry.objects.count() == audited
    with CaptureQueriesContext(connection) as outside:
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 12))
    # Without it a command keeps its own (here inside the test's transaction).
    assert sum(s.startswith("SAVEPOINT") for s in statements(outside)) == 1


def test_a_batch_of_saves_writes_its_rows_then_their_events_in_order_each_one_audited(
    tenant: Tenant, doctor: Doctor
) -> None:
    seen: list[int] = []

    def heard(sender: Any, event: Event, **kwargs: Any) -> None:
        seen.append(event.position)

    known = commands.patient_register(actor=None, name="Ravi", phone="+919812345678")
    patients = [
        commands.patient_prepared(actor=None, name=f"Asha {n}", phone=f"+91981234567{n}")
        for n in range(3)
    ]
    day = ist(5, 9).date()
    leave = DoctorLeave(doctor=doctor, start_date=day, end_date=day, reason="conference")
    leave.record(events.DOCTOR_LEAVE_GRANTED, {"doctor_id": doctor.pk}, actor=None)
    batch = AppendBatch()
    event_appended.connect(heard, dispatch_uid="test-append-batch")
    try:
        with CaptureQueriesContext(connection) as captured:
            batch.save(patients[0])
            batch.save(leave)
            assert commands.patient_changes(actor=None, patient=known, name="Ravi Kumar")
            batch.save(known)
            batch.save(patients[1])
            # Saved twice: written once, as it ended, with both events.
            assert commands.patient_changes(actor=None, patient=patients[1], name="Asha Rani")
            batch.save(patients[1])
            batch.save(patients[2])
            batch.write()
    finally:
        event_appended.disconnect(dispatch_uid="test-append-batch")

    sql = statements(captured)
    writes = [s.split('"')[1] for s in sql if s.startswith(("INSERT", "UPDATE"))]
    # A model's new rows in one insert, its changed rows in one update, the models in the
    # order they first appear; then the events, then their audit entries.
    assert writes == [
        "scheduling_patient", "scheduling_doctorleave", "scheduling_patient",
        "eventstore_event", "audit_auditentry",
    ]  # fmt: skip
    assert sum("pg_advisory_xact_lock" in s for s in sql) == 1
    appended = list(Event.objects.filter(position__in=seen).order_by("position"))
    assert seen == sorted(seen) and len(seen) == 6
    assert [(e.stream, e.version, e.type) for e in appended] == [
        (patients[0].stream, 1, "PatientRegistered"),
        (leave.stream, 1, "DoctorLeaveGranted"),
        (known.stream, 2, "PatientUpdated"),
        (patients[1].stream, 1, "PatientRegistered"),
        (patients[1].stream, 2, "PatientUpdated"),
        (patients[2].stream, 1, "PatientRegistered"),
    ]
    assert appended[0].data == {"id": patients[0].pk, "branch_id": None, "language": "en"}
    assert patients[1].last_event == appended[4]
    # The personal fields were sealed as a save seals them, the last change included.
    assert Patient.objects.get(pk=patients[1].pk).name == "Asha Rani"
    assert Patient.objects.get(pk=patients[1].pk).version == 2
    assert Patient.objects.get(pk=known.pk).name == "Ravi Kumar"
    entries = AuditEntry.objects.filter(action="event.appended").order_by("-id")[:6]
    assert [e.target for e in reversed(entries)] == [f"event:{p}" for p in seen]
    assert trail.verify().ok


def test_a_batch_saves_only_rows_with_an_event_and_catches_a_row_changed_meanwhile(
    tenant: Tenant,
) -> None:
    unrecorded = Patient(language="en")
    unrecorded.name = "Asha"
    with pytest.raises(AppendOnlyError):
        AppendBatch().save(unrecorded)
    saved = commands.patient_register(actor=None, name="Ravi", phone="+919812345678")
    stale = Patient.objects.get(pk=saved.pk)
    commands.patient_update(actor=None, patient=saved, name="Ravi Kumar")
    batch = AppendBatch()
    assert commands.patient_changes(actor=None, patient=stale, name="Ravi K")
    batch.save(stale)
    with pytest.raises(Conflict), transaction.atomic():
        batch.write()
    assert Patient.objects.get(pk=saved.pk).name == "Ravi Kumar"


def test_writes_deferred_in_a_block_that_fails_are_dropped_and_the_trail_goes_on(
    tenant: Tenant,
) -> None:
    commands.patient_register(actor=None, name="Ravi", phone="+919812345678")
    entries = AuditEntry.objects.count()
    # Only under the append lock.
    with transaction.atomic(), pytest.raises(RuntimeError), deferring():
        pass
    with transaction.atomic(), holding_append_lock():
        with pytest.raises(ZeroDivisionError), transaction.atomic(), deferring():
            deferred_entry = trail.record("test.deferred", target="patient:1")
            assert deferred_entry.id is None  # written when the block ends
            1 / 0  # noqa: B018
        assert AuditEntry.objects.count() == entries
        with CaptureQueriesContext(connection) as captured, deferring():
            first = trail.record("test.deferred", target="patient:2")
            second = trail.record("test.deferred", target="patient:3")
        assert second.id > first.id and second.prev_hash == first.hash
        assert sum(s.startswith("INSERT") for s in statements(captured)) == 1
    assert AuditEntry.objects.count() == entries + 2
    assert trail.verify().ok
