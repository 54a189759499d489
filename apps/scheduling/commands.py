"""Scheduling commands: every change to doctors, patients and appointments goes through here.

Each command runs in one transaction that takes the tenant's append lock first, re-checks
role, branch and business rules, and appends its event by saving an event-sourced model.
"""

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypedDict, TypeVar, Unpack
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_noop

from apps.clinic.access import require_branch, require_role
from apps.clinic.models import WHOLE_TENANT_ROLES, Branch, Role, User
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.core.idempotency import forget_subject
from apps.eventstore.locks import in_command
from apps.eventstore.store import command
from apps.plans.gate import require_room
from apps.scheduling import events
from apps.scheduling.actors import PatientActor
from apps.scheduling.formats import human_time
from apps.scheduling.hours import normalize_weekly_hours
from apps.scheduling.identifiers import normalize_abha_number
from apps.scheduling.lifecycle import clock_refusal
from apps.scheduling.models import (
    Appointment,
    BranchClosure,
    Doctor,
    DoctorLeave,
    NoShowPolicy,
    Patient,
    SchedulingSettings,
)
from apps.scheduling.phones import normalize_phone
from apps.scheduling.selectors import (
    is_repeat_no_show,
    same_day_live_visit,
)
from apps.scheduling.slots import branch_zone, check_slot_at
from apps.scheduling.waitlist import consume_hold, offer_freed_slot

DOCTOR_ADMINS = WHOLE_TENANT_ROLES | {Role.BRANCH_MANAGER}

# Who may run a visit command: staff, a patient for their own visits, or None (the system).
VisitActor = User | PatientActor | None


H = TypeVar("H", bound=Callable[..., Any])


def _registrar(handlers: dict[str, H]) -> Callable[[str], Callable[[H], H]]:
    """A decorator factory, `@on_x("name")`, that registers a handler under its name."""

    def on(name: str) -> Callable[[H], H]:
        def register(handler: H) -> H:
            handlers[name] = handler
            return handler

        return register

    return on


CancellationHandler = Callable[..., dict[str, Any]]
# name → handler(appointment=, actor=) returning what it did, for the cancellation event;
# it runs inside every cancellation's transaction.
cancellation_handlers: dict[str, CancellationHandler] = {}
on_cancellation = _registrar(cancellation_handlers)

BookingHandler = Callable[..., None]
# name → handler(appointment=, actor=), run in every booking's transaction after its event.
booking_handlers: dict[str, BookingHandler] = {}
on_booking = _registrar(booking_handlers)


FRONT_DESK = DOCTOR_ADMINS | {Role.RECEPTIONIST}
VISIT_STAFF = FRONT_DESK | {Role.DOCTOR}

MAX_FEE = Decimal("1000000.00")


def _validate_fee(fee: Decimal) -> Decimal:
    if not isinstance(fee, Decimal) or not fee.is_finite() or fee < 0 or fee >= MAX_FEE:
        raise InvalidInput(
            gettext_noop("Give a fee from 0 to 999999.99."), field="consultation_fee"
        )
    return fee.quantize(Decimal("0.01"))


@command
def doctor_add(
    *,
    actor: User | None,
    branch: Branch,
    name: str,
    specialty: str,
    slot_minutes: int,
    consultation_fee: Decimal,
    weekly_hours: list[dict[str, Any]],
    user: User | None = None,
) -> Doctor:
    require_role(actor, DOCTOR_ADMINS)
    require_branch(actor, branch.pk, "Branch not found.")
    if not name.strip():
        raise InvalidInput(gettext_noop("A doctor needs a name."), field="name")
    if not 5 <= slot_minutes <= 240:
        raise InvalidInput(gettext_noop("Slots last 5 to 240 minutes."), field="slot_minutes")
    if user is not None:
        if user.role != Role.DOCTOR:
            raise InvalidInput(
                gettext_noop("Link a staff member whose role is doctor."), field="user"
            )
        if Doctor.objects.filter(user=user).exists():
            raise InvalidInput(
                gettext_noop("This staff member is already linked to a doctor."), field="user"
            )
    require_room(limit="doctors", in_use=Doctor.objects.filter(active=True).count(), actor=actor)
    doctor = Doctor(
        branch=branch,
        user=user,
        name=name.strip(),
        specialty=specialty.strip(),
        slot_minutes=slot_minutes,
        consultation_fee=_validate_fee(consultation_fee),
        weekly_hours=normalize_weekly_hours(weekly_hours),
    )
    doctor.record(
        events.DOCTOR_ADDED,
        {
            "branch_id": branch.pk,
            "user_id": user.pk if user else None,
            "slot_minutes": doctor.slot_minutes,
            "consultation_fee": str(doctor.consultation_fee),
            "weekly_hours": doctor.weekly_hours,
        },
        actor=actor,
    )
    doctor.save()
    return doctor


@command
def doctor_update(
    *,
    actor: User | None,
    doctor: Doctor,
    weekly_hours: list[dict[str, Any]] | None = None,
    slot_minutes: int | None = None,
    consultation_fee: Decimal | None = None,
    active: bool | None = None,
    name: str | None = None,
    specialty: str | None = None,
) -> Doctor:
    """Changes hours, slot length, fee, name or availability; booked visits stay as they
    are. Appends an event only for what really changed (names are named, not copied)."""
    require_role(actor, DOCTOR_ADMINS)
    doctor = Doctor.objects.select_for_update().get(pk=doctor.pk)
    require_branch(actor, doctor.branch_id, "Doctor not found.")
    wanted: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise InvalidInput(gettext_noop("A doctor needs a name."), field="name")
        wanted["name"] = name.strip()
    if specialty is not None:
        wanted["specialty"] = specialty.strip()
    if weekly_hours is not None:
        wanted["weekly_hours"] = normalize_weekly_hours(weekly_hours)
    if slot_minutes is not None:
        if not 5 <= slot_minutes <= 240:
            raise InvalidInput(gettext_noop("Slots last 5 to 240 minutes."), field="slot_minutes")
        wanted["slot_minutes"] = slot_minutes
    if consultation_fee is not None:
        wanted["consultation_fee"] = _validate_fee(consultation_fee)
    if active is not None:
        wanted["active"] = active
    changed = {key: value for key, value in wanted.items() if getattr(doctor, key) != value}
    if not changed:
        return doctor
    if changed.get("active"):
        in_use = Doctor.objects.filter(active=True).count()
        require_room(limit="doctors", in_use=in_use, actor=actor)
    for key, value in changed.items():
        setattr(doctor, key, value)
    data = {key: value for key, value in changed.items() if key not in ("name", "specialty")}
    if "consultation_fee" in data:
        data["consultation_fee"] = str(data["consultation_fee"])
    if renamed := sorted(set(changed) & {"name", "specialty"}):
        data["renamed"] = renamed
    doctor.record(events.DOCTOR_UPDATED, data, actor=actor)
    doctor.save()
    return doctor


@command
def doctor_leave_grant(
    *, actor: User | None, doctor: Doctor, start_date: date, end_date: date, reason: str = ""
) -> DoctorLeave:
    """Leave blocks new bookings on those days; existing ones stay for reception to move."""
    require_role(actor, DOCTOR_ADMINS)
    require_branch(actor, doctor.branch_id, "Doctor not found.")
    if end_date < start_date:
        raise InvalidInput(
            gettext_noop("Leave ends on or after the day it starts."), field="end_date"
        )
    leave = DoctorLeave(doctor=doctor, start_date=start_date, end_date=end_date, reason=reason)
    leave.record(
        events.DOCTOR_LEAVE_GRANTED,
        {"doctor_id": doctor.pk, "start_date": start_date, "end_date": end_date},
        actor=actor,
    )
    leave.save()
    return leave


@command
def branch_closure_add(
    *, actor: User | None, branch: Branch, day: date, reason: str = ""
) -> BranchClosure:
    require_role(actor, DOCTOR_ADMINS)
    require_branch(actor, branch.pk, "Branch not found.")
    if BranchClosure.objects.filter(branch=branch, date=day, removed=False).exists():
        raise Conflict(gettext_noop("The branch is already closed that day."))
    closure = BranchClosure(branch=branch, date=day, reason=reason)
    closure.record(events.BRANCH_CLOSED, {"branch_id": branch.pk, "date": day}, actor=actor)
    closure.save()
    return closure


@command
def doctor_leave_remove(*, actor: User | None, leave: DoctorLeave) -> DoctorLeave:
    """Takes leave back: those days are bookable again (the row stays, marked removed)."""
    require_role(actor, DOCTOR_ADMINS)
    leave = DoctorLeave.objects.select_for_update().select_related("doctor").get(pk=leave.pk)
    require_branch(actor, leave.doctor.branch_id, "Leave not found.")
    if leave.removed:
        return leave
    leave.removed = True
    leave.record(events.DOCTOR_LEAVE_REMOVED, {"doctor_id": leave.doctor_id}, actor=actor)
    leave.save()
    return leave


@command
def branch_closure_remove(*, actor: User | None, closure: BranchClosure) -> BranchClosure:
    """Reopens a closed day (the row stays, marked removed)."""
    require_role(actor, DOCTOR_ADMINS)
    closure = BranchClosure.objects.select_for_update().get(pk=closure.pk)
    require_branch(actor, closure.branch_id, "Closure not found.")
    if closure.removed:
        return closure
    closure.removed = True
    closure.record(
        events.BRANCH_REOPENED, {"branch_id": closure.branch_id, "date": closure.date}, actor=actor
    )
    closure.save()
    return closure


class PatientDetails(TypedDict, total=False):
    """What a registration may give besides the name and phone (`patient_prepared`)."""

    date_of_birth: date | None
    address: str
    notes: str
    email: str
    language: str
    abha_number: str


@command
def patient_register(
    *,
    actor: User | None,
    name: str,
    phone: str,
    branch: Branch | None = None,
    **details: Unpack[PatientDetails],
) -> Patient:
    require_role(actor, FRONT_DESK)
    if branch is not None:
        require_branch(actor, branch.pk, "Branch not found.")
    patient = patient_prepared(actor=actor, name=name, phone=phone, branch=branch, **details)
    patient.save()
    return patient


def patient_prepared(
    *,
    actor: User | None,
    name: str,
    phone: str,
    date_of_birth: date | None = None,
    address: str = "",
    notes: str = "",
    branch: Branch | None = None,
    email: str = "",
    language: str = "en",
    abha_number: str = "",
) -> Patient:
    """A new patient checked as `patient_register` checks one, its registration recorded,
    not yet saved: `patient_register` saves it, and the HL7 batch apply saves a batch's new
    patients together (`AppendBatch`). The caller has checked the actor's role and branch."""
    if not name.strip():
        raise InvalidInput(gettext_noop("A patient needs a name."), field="name")
    if date_of_birth is not None and not date(1900, 1, 1) <= date_of_birth <= timezone.now().date():
        raise InvalidInput(
            gettext_noop("Date of birth must be a real past date."), field="date_of_birth"
        )
    if language not in dict(Patient.LANGUAGES):
        raise InvalidInput(gettext_noop("Choose a language we send messages in."), field="language")
    patient = Patient(registered_branch=branch, language=language)
    patient.name = name.strip()
    patient.phone = normalize_phone(phone)
    patient.date_of_birth = date_of_birth
    patient.address = address.strip()
    patient.notes = notes.strip()
    patient.email = email.strip()
    if abha_number.strip():
        patient.abha_number = normalize_abha_number(abha_number)
    # No PHI in events: the patient's name, phone and birth date stay in the row.
    return patient.record(
        events.PATIENT_REGISTERED,
        {"branch_id": branch.pk if branch else None, "language": language},
        actor=actor,
    )


@command
def patient_update(
    *,
    actor: User | None,
    patient: Patient,
    name: str | None = None,
    phone: str | None = None,
    date_of_birth: date | None = None,
) -> Patient:
    """Corrects a patient's name, phone or birth date; appends an event only for what
    really changed, naming the fields and never their values."""
    require_role(actor, FRONT_DESK)
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient_changes(
        actor=actor, patient=patient, name=name, phone=phone, date_of_birth=date_of_birth
    ):
        patient.save()
    return patient


def patient_changes(
    *,
    actor: User | None,
    patient: Patient,
    name: str | None = None,
    phone: str | None = None,
    date_of_birth: date | None = None,
) -> bool:
    """Checks a correction as `patient_update` does and makes it on `patient`, its event
    recorded (naming the fields, never their values), unsaved; False when nothing really
    changes (nothing recorded). `patient_update` saves it; the HL7 batch apply saves a
    batch's changes together (`AppendBatch`). The caller has the patient's current row."""
    if patient.erased is not None:
        raise Conflict(gettext_noop("This patient's data has been erased."))
    wanted: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise InvalidInput(gettext_noop("A patient needs a name."), field="name")
        wanted["name"] = name.strip()
    if phone is not None:
        wanted["phone"] = normalize_phone(phone)
    if date_of_birth is not None:
        if not date(1900, 1, 1) <= date_of_birth <= timezone.now().date():
            raise InvalidInput(
                gettext_noop("Date of birth must be a real past date."), field="date_of_birth"
            )
        wanted["date_of_birth"] = date_of_birth
    changed = sorted(key for key, value in wanted.items() if getattr(patient, key) != value)
    if not changed:
        return False
    for key in changed:
        setattr(patient, key, wanted[key])
    patient.record(events.PATIENT_UPDATED, {"changed": changed}, actor=actor)
    return True


@command
def patient_merge(*, actor: User | None, survivor: Patient, duplicate: Patient) -> Patient:
    """Merges `duplicate` into `survivor`: the duplicate is linked to the survivor, and its
    visits, which keep their ids (the ledger and the event log do not change; their invoices
    hang off those visits), are listed in the event so that history reads follow them.
    Merging the same pair twice is a no-op."""
    require_role(actor, FRONT_DESK)
    if survivor.pk == duplicate.pk:
        raise InvalidInput(
            gettext_noop("A patient cannot be merged into itself."), field="duplicate"
        )
    locked = {
        row.pk: row
        for row in Patient.objects.select_for_update().filter(pk__in=[survivor.pk, duplicate.pk])
    }
    survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
    if duplicate.merged_into_id == survivor.pk:
        return duplicate
    if duplicate.merged_into_id is not None or survivor.merged_into_id is not None:
        raise Conflict(gettext_noop("One of these patients was already merged into another."))
    duplicate.merged_into = survivor
    duplicate.record(
        events.PATIENT_MERGED,
        {
            "into": survivor.pk,
            "appointment_ids": sorted(duplicate.appointments.values_list("pk", flat=True)),
        },
        actor=actor,
    )
    duplicate.save()
    return duplicate


@command
def patient_erase(*, actor: User | None, patient: Patient) -> Patient:
    """Right to erasure: destroys the patient's key. Visits, payments, events and the audit
    trail keep their ids and amounts, so the ledger and every report still add up."""
    require_role(actor, WHOLE_TENANT_ROLES)
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.erased is not None:
        raise Conflict(gettext_noop("This patient's data has already been erased."))
    patient.erase()
    patient.record(events.PATIENT_ERASED, {}, actor=actor)
    patient.save()
    forget_subject(f"patient:{patient.pk}")
    return patient


@command
def no_show_policy_update(*, actor: User | None, threshold: int, window_days: int) -> NoShowPolicy:
    require_role(actor, WHOLE_TENANT_ROLES)
    if not 0 <= threshold <= 100:
        raise InvalidInput(gettext_noop("Give a threshold from 0 (off) to 100."), field="threshold")
    if not 1 <= window_days <= 3650:
        raise InvalidInput(gettext_noop("Give a window of 1 to 3650 days."), field="window_days")
    policy = NoShowPolicy.for_update()
    policy.threshold, policy.window_days = threshold, window_days
    policy.record(
        events.NO_SHOW_POLICY_CHANGED,
        {"threshold": threshold, "window_days": window_days},
        actor=actor,
    )
    policy.save()
    return policy


@command
def scheduling_settings_update(
    *,
    actor: User | None,
    check_in_opens_minutes: int,
    no_show_grace_minutes: int,
    booking_horizon_days: int | None = None,
    patient_open_bookings: int | None = None,
) -> SchedulingSettings:
    """Changes the tenant's scheduling rules; the two limits keep their value when not given."""
    require_role(actor, WHOLE_TENANT_ROLES)
    if not 0 <= check_in_opens_minutes <= 1440:
        raise InvalidInput(
            gettext_noop("Give 0 to 1440 minutes before the start."), field="check_in_opens_minutes"
        )
    if not 0 <= no_show_grace_minutes <= 1440:
        raise InvalidInput(
            gettext_noop("Give 0 to 1440 minutes after the start."), field="no_show_grace_minutes"
        )
    settings_row = SchedulingSettings.for_update()
    if booking_horizon_days is not None:
        if not HORIZON_FLOOR_DAYS <= booking_horizon_days <= 3650:
            raise InvalidInput(
                f"Give {HORIZON_FLOOR_DAYS} to 3650 days.", field="booking_horizon_days"
            )
        settings_row.booking_horizon_days = booking_horizon_days
    if patient_open_bookings is not None:
        if not 1 <= patient_open_bookings <= 100:
            raise InvalidInput(gettext_noop("Give 1 to 100 visits."), field="patient_open_bookings")
        settings_row.patient_open_bookings = patient_open_bookings
    settings_row.check_in_opens_minutes = check_in_opens_minutes
    settings_row.no_show_grace_minutes = no_show_grace_minutes
    settings_row.record(
        events.SCHEDULING_SETTINGS_CHANGED,
        {
            "check_in_opens_minutes": check_in_opens_minutes,
            "no_show_grace_minutes": no_show_grace_minutes,
            "booking_horizon_days": settings_row.booking_horizon_days,
            "patient_open_bookings": settings_row.patient_open_bookings,
        },
        actor=actor,
    )
    settings_row.save()
    return settings_row


# Every tenant lets visits be booked at least this far ahead, so a booking within it reads no
# settings (the common case stays one round trip shorter).
HORIZON_FLOOR_DAYS = 30


def _check_horizon(start: datetime, now: datetime) -> None:
    if start - now <= timedelta(days=HORIZON_FLOOR_DAYS):
        return
    horizon = SchedulingSettings.current().booking_horizon_days
    if start - now > timedelta(days=horizon):
        raise Conflict(
            gettext_noop("Visits can be booked at most %(days)s days ahead."),
            params={"days": horizon},
        )


def _check_patient_open_bookings(patient: Patient, now: datetime) -> None:
    """A patient booking in the app holds a bounded number of upcoming visits."""
    limit = SchedulingSettings.current().patient_open_bookings
    upcoming = Appointment.objects.filter(
        patient=patient, status=Appointment.Status.BOOKED, start__gte=now
    ).count()
    if upcoming >= limit:
        raise Conflict(
            f"You already have {upcoming} upcoming visits, the most the app books; "
            "please call the clinic to book another."
        )


class DuplicateVisit(Conflict):
    """The patient already has a live visit with this doctor that day (409 unless confirmed)."""

    code = "duplicate_visit"

    def __init__(self, existing: Appointment) -> None:
        zone = existing.doctor.branch.timezone
        super().__init__(
            gettext_noop(
                "This patient already has a visit with %(doctor)s that day at %(time)s. "
                "Confirm to book a second one."
            ),
            params={"doctor": existing.doctor.name, "time": human_time(existing.start, zone)},
        )
        self.existing = existing

    def as_dict(self) -> dict[str, object]:
        return {"detail": self.message, "code": self.code, "existing": self.existing.pk}


def _require_front_desk(actor: VisitActor) -> None:
    """Staff at the front desk; a patient passes here and is held to their own visits."""
    if not isinstance(actor, PatientActor):
        require_role(actor, FRONT_DESK)


def _locked(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update()
        .select_related("doctor__branch")
        .get(pk=appointment.pk)
    )


def _require_visit_access(actor: VisitActor, appointment: Appointment) -> None:
    if isinstance(actor, PatientActor):
        if appointment.patient_id != actor.patient_id:
            raise NotFound("Appointment not found.")
        return
    require_branch(actor, appointment.branch_id, "Appointment not found.")
    if actor is not None and actor.role == Role.DOCTOR and appointment.doctor.user_id != actor.pk:
        raise NotFound("Appointment not found.")


def _check_slot(
    doctor: Doctor, start: datetime, now: datetime, patient: Patient
) -> tuple[datetime, bool]:
    """The end of the grid slot that starts at `start`, and whether it is held for `patient`
    (a waitlist offer); or a 409 saying why it cannot be had.

    A slot held for a waitlisted patient is free only for that patient. Whether another
    appointment holds the time is the database's to say: the no-overlap constraint refuses
    the save (`_save_holding_time`), also under concurrency.
    """
    if timezone.is_naive(start):
        start = timezone.make_aware(start, branch_zone(doctor))
    if start <= now:
        raise Conflict(gettext_noop("This time has already passed."))
    found = check_slot_at(doctor, start, now)
    if found.slot is None:
        raise Conflict(gettext_noop("The doctor has no slot starting at this time."))
    if found.holders - {patient.pk}:
        raise Conflict(gettext_noop("This slot is held for a patient on the waitlist."))
    return found.slot.end, patient.pk in found.holders


def _save_holding_time(appointment: Appointment) -> None:
    """Saves, turning the database's no-overlap refusal (a concurrent booking) into a 409."""
    try:
        with transaction.atomic(savepoint=not in_command()):
            appointment.save()
    except IntegrityError as exc:
        if "appointment_no_overlap" in str(exc):
            raise Conflict(gettext_noop("This slot is already taken.")) from exc
        raise


def _book(
    *,
    actor: VisitActor,
    doctor: Doctor,
    patient: Patient,
    start: datetime,
    follow_up_of: Appointment | None,
    now: datetime | None,
    confirm_duplicate: bool,
) -> Appointment:
    if isinstance(actor, PatientActor):
        if patient.pk != actor.patient_id:
            raise NotFound("Patient not found.")
    else:
        require_role(actor, FRONT_DESK)
        require_branch(actor, doctor.branch_id, "Doctor not found.")
    if not doctor.active:
        raise Conflict(gettext_noop("This doctor is not taking appointments."))
    now = now or timezone.now()
    if timezone.is_naive(start):
        start = timezone.make_aware(start, branch_zone(doctor))
    _check_horizon(start, now)
    if isinstance(actor, PatientActor):
        _check_patient_open_bookings(patient, now)
    end, held_for_patient = _check_slot(doctor, start, now, patient)
    # A person booking (the desk, the API, the admin, the patient app) must confirm a second
    # live visit with the same doctor that day; the system (actor None: imports, simulation)
    # books what it is given.
    if not confirm_duplicate and actor is not None:
        existing = same_day_live_visit(doctor=doctor, patient=patient, start=start)
        if existing is not None:
            raise DuplicateVisit(existing)
    appointment = Appointment(
        doctor=doctor,
        patient=patient,
        branch=doctor.branch,  # loaded by the slot check; the response needs its timezone
        start=start,
        end=end,
        follow_up_of=follow_up_of,
        repeat_no_show=is_repeat_no_show(patient, now),
    )
    appointment.record(events.APPOINTMENT_BOOKED, appointment.event_data(), actor=actor)
    _save_holding_time(appointment)
    if held_for_patient:
        consume_hold(appointment=appointment, actor=actor, now=now)
    for handler in booking_handlers.values():
        handler(appointment=appointment, actor=actor)
    return appointment


@command
def appointment_book(
    *,
    actor: VisitActor,
    doctor: Doctor,
    patient: Patient,
    start: datetime,
    now: datetime | None = None,
    confirm_duplicate: bool = False,
) -> Appointment:
    """Books a free slot. A person's second live visit with the same doctor on one day is
    refused (`DuplicateVisit`) unless the caller confirms it was meant."""
    return _book(
        actor=actor,
        doctor=doctor,
        patient=patient,
        start=start,
        follow_up_of=None,
        now=now,
        confirm_duplicate=confirm_duplicate,
    )


@command
def appointment_follow_up(
    *,
    actor: User | None,
    appointment: Appointment,
    start: datetime,
    now: datetime | None = None,
    confirm_duplicate: bool = False,
) -> Appointment:
    """A new appointment with the same doctor and patient, linked to a completed visit."""
    original = _locked(appointment)
    _require_visit_access(actor, original)
    if original.status != Appointment.Status.COMPLETED:
        raise Conflict(gettext_noop("A follow-up is booked only after a completed visit."))
    return _book(
        actor=actor,
        doctor=original.doctor,
        patient=original.patient,
        start=start,
        follow_up_of=original,
        now=now,
        confirm_duplicate=confirm_duplicate,
    )


@command
def appointment_reschedule(
    *, actor: VisitActor, appointment: Appointment, start: datetime, now: datetime | None = None
) -> Appointment:
    """Moves a booked appointment to another free slot of its doctor; same id, history kept."""
    appointment = _locked(appointment)
    _require_visit_access(actor, appointment)
    _require_front_desk(actor)
    appointment.require("reschedule")
    now = now or timezone.now()
    if timezone.is_naive(start):
        start = timezone.make_aware(start, branch_zone(appointment.doctor))
    _check_horizon(start, now)
    previous = (appointment.start, appointment.end)
    appointment.end, held_for_patient = _check_slot(
        appointment.doctor, start, now, appointment.patient
    )
    appointment.start = start
    appointment.take(
        "reschedule",
        actor=actor,
        previous_start=previous[0].isoformat(),
        previous_end=previous[1].isoformat(),
    )
    _save_holding_time(appointment)
    if held_for_patient:
        consume_hold(appointment=appointment, actor=actor, now=now)
    return appointment


@command
def appointment_cancel(
    *, actor: VisitActor, appointment: Appointment, reason: str, now: datetime | None = None
) -> Appointment:
    appointment = _locked(appointment)
    _require_visit_access(actor, appointment)
    _require_front_desk(actor)
    appointment.require("cancel")
    now = now or timezone.now()
    refusal = clock_refusal(
        "cancel", start=appointment.start, zone=appointment.doctor.branch.timezone, now=now
    )
    if refusal is not None:
        raise refusal
    appointment.cancel_reason = reason.strip()[:200]
    # Higher apps (billing) settle what they hold for the appointment in this transaction
    # and say what they did; the cancellation event records it. The reason is free text and
    # may name the patient's condition: it stays in the row.
    outcomes = {
        name: handler(appointment=appointment, actor=actor)
        for name, handler in cancellation_handlers.items()
    }
    appointment.take("cancel", actor=actor, **outcomes)
    appointment.save()
    # The freed slot goes to the first patient on the doctor's waitlist for that day.
    offer_freed_slot(
        doctor=appointment.doctor,
        start=appointment.start,
        end=appointment.end,
        actor=actor,
        now=now,
    )
    return appointment


def next_token(appointment: Appointment) -> int:
    """The queue token a visit gets at check-in: one more than the highest its doctor gave on
    the visit's local day (1 for the first). Race-free because every command holds the
    tenant's append lock until it commits: two check-ins never count at the same time."""
    zone = ZoneInfo(appointment.doctor.branch.timezone)
    day = appointment.start.astimezone(zone).date()
    highest = Appointment.objects.filter(
        doctor_id=appointment.doctor_id,
        start__gte=datetime.combine(day, time(), tzinfo=zone),
        start__lt=datetime.combine(day + timedelta(days=1), time(), tzinfo=zone),
    ).aggregate(highest=Max("token"))["highest"]
    return (highest or 0) + 1


def _transition(
    *, actor: User | None, appointment: Appointment, action: str, now: datetime | None
) -> Appointment:
    """Takes one step of the state machine that needs no more than the state and the clock."""
    appointment = _locked(appointment)
    _require_visit_access(actor, appointment)
    require_role(actor, VISIT_STAFF)
    appointment.require(action)
    refusal = clock_refusal(
        action,
        start=appointment.start,
        zone=appointment.doctor.branch.timezone,
        now=now or timezone.now(),
    )
    if refusal is not None:
        raise refusal
    if action == "check_in" and appointment.token is None:
        appointment.token = next_token(appointment)
    appointment.take(action, actor=actor)
    if appointment.status in Appointment.HOLDING:
        _save_holding_time(appointment)
    else:
        appointment.save()
    return appointment


@command
def appointment_check_in(
    *, actor: User | None, appointment: Appointment, now: datetime | None = None
) -> Appointment:
    """Only on the visit's day, from the tenant's check-in window before its start; the visit
    gets its doctor's next queue token for the day (`next_token`)."""
    return _transition(actor=actor, appointment=appointment, action="check_in", now=now)


@command
def appointment_complete(
    *, actor: User | None, appointment: Appointment, now: datetime | None = None
) -> Appointment:
    """Only a checked-in visit completes."""
    return _transition(actor=actor, appointment=appointment, action="complete", now=now)


@command
def appointment_mark_no_show(
    *, actor: User | None, appointment: Appointment, now: datetime | None = None
) -> Appointment:
    """Only on the visit's day, once its start plus the tenant's grace has passed."""
    return _transition(actor=actor, appointment=appointment, action="no_show", now=now)


@command
def appointment_undo_no_show(
    *, actor: User | None, appointment: Appointment, now: datetime | None = None
) -> Appointment:
    """Takes back a no-show marked by mistake, on the visit's own day only: the visit is
    booked again (409 if its time was given to someone else meanwhile)."""
    return _transition(actor=actor, appointment=appointment, action="undo_no_show", now=now)


# The steps that need nothing but the state and the clock, by action: every surface (console,
# admin, API) that offers them calls them through this table.
VISIT_STEPS: dict[str, Callable[..., Appointment]] = {
    "check_in": appointment_check_in,
    "complete": appointment_complete,
    "no_show": appointment_mark_no_show,
    "undo_no_show": appointment_undo_no_show,
}
