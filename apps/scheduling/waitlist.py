"""Waitlist commands: join and leave a doctor's waitlist for a day, offer a freed slot to the
first waiting patient (a hold that only they can book), and expire offers.

A cancellation frees a slot; `offer_freed_slot` runs inside that command's transaction, so
the hold and the cancellation commit together. While a hold is live, `_check_slot` and
`free_slots` treat the slot as taken for everyone but its patient; the patient's booking of
exactly that slot consumes the hold and fulfils the entry. Expired holds are offered to the
next waiting patient (or simply lapse, freeing the slot) by `slot_holds_expire`, which beat
runs per tenant. Every command takes the tenant's append lock first (`@command`), so these
checks and the bookings they guard are serialised.
"""

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from apps.clinic.access import require_branch, require_role
from apps.clinic.models import Role, User
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.core.tenancy import note_due
from apps.eventstore.models import Actor
from apps.eventstore.store import command
from apps.scheduling import events
from apps.scheduling.actors import PatientActor
from apps.scheduling.models import Appointment, Doctor, Patient, SlotHold, WaitlistEntry
from apps.scheduling.slots import branch_zone, live_holds, local_date

# Who may put patients on a waitlist and take them off (the patient app will add patients).
WAITLIST_STAFF = frozenset({Role.OWNER, Role.MANAGER, Role.BRANCH_MANAGER, Role.RECEPTIONIST})


def hold_duration() -> timedelta:
    return timedelta(minutes=settings.MYMEDIC_WAITLIST_HOLD_MINUTES)


def _entry_data(entry: WaitlistEntry, **extra: object) -> dict[str, object]:
    return {
        "doctor_id": entry.doctor_id,
        "patient_id": entry.patient_id,
        "branch_id": entry.branch_id,
        "date": entry.date.isoformat(),
        "status": entry.status,
        **extra,
    }


def _require_waitlist_access(
    actor: User | PatientActor | None, patient_id: int, branch_id: int, what: str
) -> None:
    """Front-desk staff of the branch, or the patient for their own place on the list."""
    if isinstance(actor, PatientActor):
        if actor.patient_id != patient_id:
            raise NotFound(what)
        return
    require_role(actor, WAITLIST_STAFF)
    require_branch(actor, branch_id, what)


@command
def waitlist_join(
    *,
    actor: User | PatientActor | None,
    doctor: Doctor,
    patient: Patient,
    day: date,
    now: datetime | None = None,
) -> WaitlistEntry:
    if isinstance(actor, PatientActor) and actor.patient_id != patient.pk:
        raise NotFound("Patient not found.")
    _require_waitlist_access(actor, patient.pk, doctor.branch_id, "Doctor not found.")
    if not doctor.active:
        raise Conflict(gettext_noop("This doctor is not taking appointments."))
    if patient.erased is not None:
        raise Conflict(gettext_noop("This patient's data has been erased."))
    if day < local_date(now or timezone.now(), branch_zone(doctor)):
        raise InvalidInput(
            gettext_noop("Join the waitlist for today or a later day."), field="date"
        )
    if WaitlistEntry.objects.filter(
        doctor=doctor, patient=patient, date=day, status__in=WaitlistEntry.OPEN
    ).exists():
        raise Conflict(
            gettext_noop("The patient is already on this doctor's waitlist for that day.")
        )
    entry = WaitlistEntry(doctor=doctor, patient=patient, branch_id=doctor.branch_id, date=day)
    entry.record(events.WAITLIST_JOINED, _entry_data(entry), actor=actor)
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError as exc:
        raise Conflict(
            gettext_noop("The patient is already on this doctor's waitlist for that day.")
        ) from exc
    return entry


@command
def waitlist_leave(
    *, actor: User | PatientActor | None, entry: WaitlistEntry, now: datetime | None = None
) -> WaitlistEntry:
    """Takes the patient off the list; a slot held for them goes to the next one waiting."""
    if not isinstance(actor, PatientActor):
        require_role(actor, WAITLIST_STAFF)
    entry = (
        WaitlistEntry.objects.select_for_update().select_related("doctor__branch").get(pk=entry.pk)
    )
    _require_waitlist_access(actor, entry.patient_id, entry.branch_id, "Waitlist entry not found.")
    if entry.status not in WaitlistEntry.OPEN:
        raise Conflict(f"An entry that is {entry.get_status_display().lower()} cannot leave.")
    now = now or timezone.now()
    released = [
        _close_hold(hold, SlotHold.Status.RELEASED, events.SLOT_HOLD_RELEASED, actor=actor)
        for hold in SlotHold.objects.select_for_update().filter(
            entry=entry, status=SlotHold.Status.LIVE
        )
    ]
    entry.status = WaitlistEntry.Status.LEFT
    entry.record(events.WAITLIST_LEFT, _entry_data(entry), actor=actor)
    entry.save()
    for hold in released:
        offer_freed_slot(doctor=entry.doctor, start=hold.start, end=hold.end, actor=actor, now=now)
    return entry


def _close_hold(hold: SlotHold, status: str, event_type: str, *, actor: Actor | None) -> SlotHold:
    hold.status = status
    hold.record(event_type, hold.event_data(), actor=actor)
    hold.save()
    return hold


def offer_freed_slot(
    *,
    doctor: Doctor,
    start: datetime,
    end: datetime,
    actor: Actor | None,
    now: datetime | None = None,
) -> SlotHold | None:
    """Holds the freed slot [start, end) for the first patient waiting for the doctor that day.

    Runs inside the caller's command (cancel, leave, expiry). Returns the hold, or None when
    nobody waits, the slot has started, or it is no longer free.
    """
    now = now or timezone.now()
    if start <= now:
        return None
    taken = Appointment.objects.filter(
        doctor=doctor, status__in=Appointment.HOLDING, start__lt=end, end__gt=start
    ).exists()
    if taken or live_holds(doctor, start, end, now=now).exists():
        return None
    day = local_date(start, branch_zone(doctor))
    entry = (
        WaitlistEntry.objects.select_for_update()
        .filter(doctor=doctor, date=day, status=WaitlistEntry.Status.WAITING)
        .order_by("created", "id")
        .first()
    )
    if entry is None:
        return None
    hold = SlotHold(
        entry=entry,
        doctor=doctor,
        patient_id=entry.patient_id,
        branch_id=doctor.branch_id,
        start=start,
        end=end,
        # Never beyond the slot's start: a hold past it would keep nothing.
        expires_at=min(now + hold_duration(), start),
    )
    hold.record(events.SLOT_HELD, hold.event_data(), actor=actor)
    hold.save()
    note_due("expire-slot-holds", hold.expires_at)
    entry.status = WaitlistEntry.Status.OFFERED
    entry.record(events.WAITLIST_OFFERED, _entry_data(entry, hold_id=hold.pk), actor=actor)
    entry.save()
    return hold


def consume_hold(
    *, appointment: Appointment, actor: Actor | None, now: datetime
) -> SlotHold | None:
    """The holder booked the held slot: the hold is used up and the entry fulfilled."""
    hold = (
        SlotHold.objects.select_for_update()
        .filter(
            doctor_id=appointment.doctor_id,
            patient_id=appointment.patient_id,
            status=SlotHold.Status.LIVE,
            expires_at__gt=now,
            start=appointment.start,
        )
        .select_related("entry")
        .first()
    )
    if hold is None:
        return None
    hold.status = SlotHold.Status.CONSUMED
    hold.record(
        events.SLOT_HOLD_CONSUMED, hold.event_data(appointment_id=appointment.pk), actor=actor
    )
    hold.save()
    entry = WaitlistEntry.objects.select_for_update().get(pk=hold.entry_id)
    entry.status = WaitlistEntry.Status.FULFILLED
    entry.record(
        events.WAITLIST_FULFILLED, _entry_data(entry, appointment_id=appointment.pk), actor=actor
    )
    entry.save()
    return hold


@command
def slot_holds_expire(*, now: datetime | None = None) -> int:
    """Ends every hold past its expiry; each slot goes to the next patient waiting, if any.

    Safe to run twice or concurrently: holds are taken with SKIP LOCKED and re-checked.
    """
    now = now or timezone.now()
    expired = 0
    due = (
        SlotHold.objects.select_for_update(skip_locked=True)
        .filter(status=SlotHold.Status.LIVE, expires_at__lte=now)
        .select_related("doctor__branch")
        .order_by("expires_at", "id")
    )
    for hold in due:
        _close_hold(hold, SlotHold.Status.EXPIRED, events.SLOT_HOLD_EXPIRED, actor=None)
        entry = WaitlistEntry.objects.select_for_update().get(pk=hold.entry_id)
        if entry.status == WaitlistEntry.Status.OFFERED:
            entry.status = WaitlistEntry.Status.EXPIRED
            entry.record(
                events.WAITLIST_OFFER_EXPIRED, _entry_data(entry, hold_id=hold.pk), actor=None
            )
            entry.save()
        offer_freed_slot(doctor=hold.doctor, start=hold.start, end=hold.end, actor=None, now=now)
        expired += 1
    return expired
