"""Editing doctors without noise in the log, and taking back leave and closures."""

from decimal import Decimal

import pytest

from apps.clinic.models import Branch, User
from apps.core.errors import Conflict
from apps.eventstore.models import Event
from apps.scheduling import commands
from apps.scheduling.models import Doctor
from apps.scheduling.slots import free_slots
from apps.tenants.models import Tenant
from tests.clock import MONDAY


def test_a_doctor_update_that_changes_nothing_appends_no_event(owner: User, doctor: Doctor) -> None:
    before = Event.objects.count()

    commands.doctor_update(
        actor=owner,
        doctor=doctor,
        name=doctor.name,
        specialty=doctor.specialty,
        weekly_hours=list(doctor.weekly_hours),
        slot_minutes=doctor.slot_minutes,
        consultation_fee=Decimal(doctor.consultation_fee),
        active=True,
    )

    assert Event.objects.count() == before


def test_a_doctor_update_records_only_what_changed_and_no_names(
    owner: User, doctor: Doctor
) -> None:
    commands.doctor_update(
        actor=owner, doctor=doctor, name="Dr. Kavita Menon-Rao", consultation_fee=Decimal("650")
    )

    doctor.refresh_from_db()
    assert doctor.name == "Dr. Kavita Menon-Rao" and doctor.consultation_fee == Decimal("650.00")
    event = doctor.history().last()
    assert event is not None and event.type == "DoctorUpdated"
    assert event.data == {"id": doctor.pk, "consultation_fee": "650.00", "renamed": ["name"]}


def test_removed_leave_makes_the_days_bookable_again(owner: User, doctor: Doctor) -> None:
    leave = commands.doctor_leave_grant(
        actor=owner, doctor=doctor, start_date=MONDAY, end_date=MONDAY
    )
    assert free_slots(doctor, MONDAY) == []

    commands.doctor_leave_remove(actor=owner, leave=leave)

    assert free_slots(doctor, MONDAY) != []
    leave.refresh_from_db()
    assert leave.removed


def test_a_reopened_day_is_bookable_and_can_be_closed_again(
    owner: User, doctor: Doctor, main_branch: Branch, tenant: Tenant
) -> None:
    closure = commands.branch_closure_add(actor=owner, branch=main_branch, day=MONDAY)
    assert free_slots(doctor, MONDAY) == []

    commands.branch_closure_remove(actor=owner, closure=closure)
    assert free_slots(doctor, MONDAY) != []

    commands.branch_closure_add(actor=owner, branch=main_branch, day=MONDAY, reason="again")
    assert free_slots(doctor, MONDAY) == []
    with pytest.raises(Conflict):
        commands.branch_closure_add(actor=owner, branch=main_branch, day=MONDAY)
