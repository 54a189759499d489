"""Waitlist: a cancelled slot is held for the first patient waiting, blocks everyone else,
is bookable by its holder, and passes to the next patient when the hold expires."""

from datetime import timedelta
from typing import Any

import pytest
import time_machine

from apps.clinic.models import Branch, Role, User
from apps.core.errors import Conflict
from apps.eventstore.projections import catch_up
from apps.notifications.backends import FileBackend
from apps.notifications.dispatch import dispatch_due
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient, SlotHold, WaitlistEntry
from apps.scheduling.slots import free_slots
from apps.scheduling.waitlist import slot_holds_expire, waitlist_join, waitlist_leave
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory, UserFactory
from tests.clock import MONDAY, ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import DoctorFactory, PatientFactory, WaitlistEntryFactory

TUESDAY = MONDAY + timedelta(days=1)


@pytest.fixture
def desk(owner: User, tenant: Tenant) -> HostClient:
    return client_for(owner, tenant)


@pytest.fixture
def booked(doctor: Doctor, patient: Patient) -> Appointment:
    return commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))


@pytest.fixture
def waiting(doctor: Doctor) -> list[Patient]:
    first, second = PatientFactory(name="First Waiting"), PatientFactory(name="Second Waiting")
    for person in (first, second):
        WaitlistEntryFactory(doctor=doctor, patient=person, day=TUESDAY)
    return [first, second]


def test_staff_put_a_patient_on_the_waitlist_and_list_it_by_doctor_and_date(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    created = desk.post(
        "/api/v1/waitlist/",
        {"doctor": doctor.pk, "patient": patient.pk, "date": "2027-01-05"},
        format="json",
    )
    again = desk.post(
        "/api/v1/waitlist/",
        {"doctor": doctor.pk, "patient": patient.pk, "date": "2027-01-05"},
        format="json",
    )
    listed = desk.get(f"/api/v1/waitlist/?doctor={doctor.pk}&date=2027-01-05").json()
    other_day = desk.get(f"/api/v1/waitlist/?doctor={doctor.pk}&date=2027-01-06").json()

    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["doctor"], body["patient"], body["date"], body["status"]) == (
        doctor.pk,
        patient.pk,
        "2027-01-05",
        "waiting",
    )
    assert body["hold"] is None and body["position"] > 0
    assert again.status_code == 409
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]
    assert other_day["count"] == 0


def test_a_past_day_is_refused(desk: HostClient, doctor: Doctor, patient: Patient) -> None:
    response = desk.post(
        "/api/v1/waitlist/",
        {"doctor": doctor.pk, "patient": patient.pk, "date": "2027-01-03"},
        format="json",
    )

    assert response.status_code == 400 and "date" in response.json()


def test_a_cancellation_offers_the_slot_to_the_first_patient_waiting(
    booked: Appointment, waiting: list[Patient], outbox: FileBackend
) -> None:
    commands.appointment_cancel(actor=None, appointment=booked, reason="unwell")
    catch_up()
    dispatch_due()

    hold = SlotHold.objects.get()
    first_entry = WaitlistEntry.objects.get(patient=waiting[0])
    assert (hold.patient_id, hold.start, hold.status) == (waiting[0].pk, ist(5, 10), "live")
    assert hold.expires_at == ist(4, 8, 30)  # 30 minutes by default
    assert first_entry.status == "offered"
    assert WaitlistEntry.objects.get(patient=waiting[1]).status == "waiting"
    offer = [m for m in outbox.sent("sms") if m["key"] == f"slot-hold-{hold.pk}:offer"]
    assert len(offer) == 1 and offer[0]["to"] == waiting[0].phone
    assert "First Waiting" in offer[0]["body"] and "until 08:30" in offer[0]["body"]


def test_a_held_slot_is_refused_to_others_and_booked_by_its_holder(
    desk: HostClient, doctor: Doctor, booked: Appointment, waiting: list[Patient]
) -> None:
    commands.appointment_cancel(actor=None, appointment=booked, reason="unwell")
    slot = {"doctor": doctor.pk, "start": "2027-01-05T10:00:00+05:30"}

    stranger = desk.post(
        "/api/v1/appointments/", {**slot, "patient": PatientFactory().pk}, format="json"
    )
    slots = desk.get(f"/api/v1/doctors/{doctor.pk}/slots/?date=2027-01-05").json()
    holders_slots = free_slots(doctor, TUESDAY, patient=waiting[0])
    holder = desk.post("/api/v1/appointments/", {**slot, "patient": waiting[0].pk}, format="json")

    assert stranger.status_code == 409
    assert "held" in stranger.json()["detail"]
    assert "2027-01-05T10:00:00+05:30" not in [s["start"] for s in slots]
    assert ist(5, 10) in [s.start for s in holders_slots]
    assert holder.status_code == 201, holder.json()
    assert SlotHold.objects.get().status == "consumed"
    assert WaitlistEntry.objects.get(patient=waiting[0]).status == "fulfilled"


def test_an_expired_hold_passes_to_the_next_patient_then_frees_the_slot(
    doctor: Doctor, booked: Appointment, waiting: list[Patient]
) -> None:
    commands.appointment_cancel(actor=None, appointment=booked, reason="unwell")

    with time_machine.travel(ist(4, 8, 29), tick=False):
        assert slot_holds_expire() == 0
    with time_machine.travel(ist(4, 8, 30), tick=False):
        assert slot_holds_expire() == 1
        assert slot_holds_expire() == 0  # twice is harmless
    second_hold = SlotHold.objects.get(status="live")
    with time_machine.travel(ist(4, 9), tick=False):
        slot_holds_expire()
        free = free_slots(doctor, TUESDAY)

    assert second_hold.patient_id == waiting[1].pk
    assert second_hold.expires_at == ist(4, 9)
    assert WaitlistEntry.objects.get(patient=waiting[0]).status == "expired"
    assert WaitlistEntry.objects.get(patient=waiting[1]).status == "expired"
    assert list(SlotHold.objects.values_list("status", flat=True)) == ["expired", "expired"]
    assert ist(5, 10) in [slot.start for slot in free]


def test_the_holder_leaving_passes_the_slot_on(
    desk: HostClient, booked: Appointment, waiting: list[Patient]
) -> None:
    commands.appointment_cancel(actor=None, appointment=booked, reason="unwell")
    entry = WaitlistEntry.objects.get(patient=waiting[0])

    response = desk.post(f"/api/v1/waitlist/{entry.pk}/leave/")
    again = desk.post(f"/api/v1/waitlist/{entry.pk}/leave/")

    assert response.status_code == 200 and response.json()["status"] == "left"
    assert again.status_code == 409
    assert SlotHold.objects.get(status="live").patient_id == waiting[1].pk
    assert SlotHold.objects.get(entry=entry).status == "released"


def test_a_cancellation_with_nobody_waiting_just_frees_the_slot(
    doctor: Doctor, booked: Appointment
) -> None:
    commands.appointment_cancel(actor=None, appointment=booked, reason="unwell")

    assert not SlotHold.objects.exists()
    assert ist(5, 10) in [slot.start for slot in free_slots(doctor, TUESDAY)]


def test_the_command_refuses_a_second_open_entry(doctor: Doctor, waiting: list[Patient]) -> None:
    with pytest.raises(Conflict):
        waitlist_join(actor=None, doctor=doctor, patient=waiting[0], day=TUESDAY)
    waitlist_leave(actor=None, entry=WaitlistEntry.objects.get(patient=waiting[0]))
    assert waitlist_join(actor=None, doctor=doctor, patient=waiting[0], day=TUESDAY).pk


@pytest.fixture
def other_branch_world(doctor: Doctor, main_branch: Branch) -> dict[str, Any]:
    elsewhere = BranchFactory(name="Thane")
    their_doctor = DoctorFactory(branch=elsewhere)
    person = PatientFactory()
    entry = waitlist_join(actor=None, doctor=their_doctor, patient=person, day=TUESDAY)
    desk_user = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])
    return {"doctor": their_doctor, "patient": person, "entry": entry, "desk": desk_user}


def test_a_receptionist_never_reaches_another_branchs_waitlist(
    tenant: Tenant, other_branch_world: dict[str, Any]
) -> None:
    world = other_branch_world
    client = client_for(world["desk"], tenant)

    listed = client.get("/api/v1/waitlist/").json()
    leave = client.post(f"/api/v1/waitlist/{world['entry'].pk}/leave/")
    join = client.post(
        "/api/v1/waitlist/",
        {"doctor": world["doctor"].pk, "patient": world["patient"].pk, "date": "2027-01-06"},
        format="json",
    )

    assert listed["count"] == 0
    assert leave.status_code == 404
    assert join.status_code == 404


def test_another_tenant_never_reaches_this_tenants_waitlist(
    tenant: Tenant, other_tenant: Tenant, doctor: Doctor, waiting: list[Patient]
) -> None:
    from django_tenants.utils import schema_context

    entry = WaitlistEntry.objects.first()
    assert entry is not None
    with schema_context(other_tenant.schema_name):
        theirs = client_for(User.objects.get(role=Role.OWNER), other_tenant)

    assert theirs.get("/api/v1/waitlist/").json()["count"] == 0
    assert theirs.post(f"/api/v1/waitlist/{entry.pk}/leave/").status_code == 404
    joined = theirs.post(
        "/api/v1/waitlist/",
        {"doctor": doctor.pk, "patient": waiting[0].pk, "date": "2027-01-05"},
        format="json",
    )
    assert joined.status_code == 404


def test_doctors_may_not_use_the_waitlist(tenant: Tenant, main_branch: Branch) -> None:
    login = UserFactory(role=Role.DOCTOR, branches=[main_branch])

    assert client_for(login, tenant).get("/api/v1/waitlist/").status_code == 403


def test_the_admin_lists_the_waitlist_and_holds_without_patient_names(
    api: HostClient, owner: User, booked: Appointment, waiting: list[Patient]
) -> None:
    commands.appointment_cancel(actor=None, appointment=booked, reason="unwell")
    api.force_login(owner)

    entries = api.get("/admin/scheduling/waitlistentry/?status__exact=offered")
    holds = api.get("/admin/scheduling/slothold/")
    entry = api.get(f"/admin/scheduling/waitlistentry/{WaitlistEntry.objects.first().pk}/change/")

    assert entries.status_code == holds.status_code == entry.status_code == 200
    assert "First Waiting" not in entries.content.decode() + entry.content.decode()
