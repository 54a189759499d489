"""Queue commands: calling a checked-in patient, starting and ending the consultation, the
doctors' rooms and the waiting-room display links.

Each runs in one transaction holding the tenant's append lock (`@command`), re-checks role,
branch and state under it and appends its event by saving an event-sourced model.
"""

import hashlib
import secrets
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core import signing
from django.utils import timezone
from django.utils.translation import gettext_noop

from apps.clinic.access import require_branch, require_role
from apps.clinic.models import WHOLE_TENANT_ROLES, Branch, Role, User
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.eventstore.store import command
from apps.queue import events
from apps.queue.live import tell_revoked
from apps.queue.models import Consultation, DisplayLink, DoctorRoom
from apps.scheduling.commands import VISIT_STAFF, _require_visit_access, appointment_complete
from apps.scheduling.models import Appointment, Doctor

# Who sets rooms and makes or revokes display links: the branch's managers.
QUEUE_ADMINS = WHOLE_TENANT_ROLES | {Role.BRANCH_MANAGER}
DISPLAY_SALT = "apps.queue.display-link"


def _locked_visit(actor: User | None, appointment: Appointment) -> Appointment:
    appointment = (
        Appointment.objects.select_for_update()
        .select_related("doctor__branch")
        .get(pk=appointment.pk)
    )
    _require_visit_access(actor, appointment)
    require_role(actor, VISIT_STAFF)
    if appointment.status != Appointment.Status.CHECKED_IN:
        raise Conflict(gettext_noop("Only a checked-in patient is in the queue."))
    return appointment


def _consultation(appointment: Appointment) -> Consultation:
    found = Consultation.objects.select_for_update().filter(appointment=appointment).first()
    return found or Consultation(
        appointment=appointment, doctor=appointment.doctor, branch=appointment.branch
    )


def _save(consultation: Consultation, event_type: str, actor: User | None) -> Consultation:
    consultation.record(event_type, consultation.event_data(), actor=actor)
    consultation.save()
    return consultation


@command
def patient_call(*, actor: User | None, appointment: Appointment) -> Consultation:
    """Calls a checked-in patient to the doctor's room (again, if called before and not seen:
    the waiting room is told once more)."""
    appointment = _locked_visit(actor, appointment)
    consultation = _consultation(appointment)
    if consultation.stage != Consultation.Stage.CALLED:
        raise Conflict(gettext_noop("This consultation has already started."))
    consultation.calls += 1
    consultation.called_at = timezone.now()
    return _save(consultation, events.PATIENT_CALLED, actor)


def _today_bounds(doctor: Doctor) -> tuple[datetime, datetime]:
    zone = ZoneInfo(doctor.branch.timezone)
    day = timezone.now().astimezone(zone).date()
    first = datetime.combine(day, time(), tzinfo=zone)
    return first, datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)


@command
def queue_call_next(*, actor: User | None, doctor: Doctor) -> Consultation:
    """Calls the doctor's lowest token of today that nobody has called yet; 409 when nobody
    is waiting."""
    require_role(actor, VISIT_STAFF)
    require_branch(actor, doctor.branch_id, "Doctor not found.")
    if actor is not None and actor.role == Role.DOCTOR and doctor.user_id != actor.pk:
        raise NotFound("Doctor not found.")
    first, last = _today_bounds(doctor)
    waiting = (
        Appointment.objects.filter(
            doctor=doctor,
            status=Appointment.Status.CHECKED_IN,
            start__gte=first,
            start__lt=last,
            consultation__isnull=True,
            token__isnull=False,
        )
        .order_by("token")
        .first()
    )
    if waiting is None:
        raise Conflict(gettext_noop("Nobody is waiting."))
    return patient_call(actor=actor, appointment=waiting)


@command
def consultation_start(*, actor: User | None, appointment: Appointment) -> Consultation:
    """The patient is with the doctor: waiting time runs from check-in to here."""
    appointment = _locked_visit(actor, appointment)
    consultation = _consultation(appointment)
    if consultation.stage != Consultation.Stage.CALLED:
        raise Conflict(gettext_noop("This consultation has already started."))
    now = timezone.now()
    consultation.called_at = consultation.called_at or now
    consultation.started_at = now
    consultation.stage = Consultation.Stage.STARTED
    return _save(consultation, events.CONSULTATION_STARTED, actor)


@command
def consultation_end(*, actor: User | None, appointment: Appointment) -> Consultation:
    """Ends a started consultation and completes the visit (consultation time runs from the
    start to here)."""
    appointment = _locked_visit(actor, appointment)
    consultation = _consultation(appointment)
    if consultation.stage != Consultation.Stage.STARTED:
        raise Conflict(gettext_noop("Start the consultation first."))
    consultation.ended_at = timezone.now()
    consultation.stage = Consultation.Stage.ENDED
    _save(consultation, events.CONSULTATION_ENDED, actor)
    appointment_complete(actor=actor, appointment=appointment)
    return consultation


@command
def doctor_room_set(*, actor: User | None, doctor: Doctor, room: str) -> DoctorRoom:
    require_role(actor, QUEUE_ADMINS)
    require_branch(actor, doctor.branch_id, "Doctor not found.")
    room = room.strip()
    if not room or len(room) > 40:
        raise InvalidInput(gettext_noop("Name the room in 1 to 40 characters."), field="room")
    found = DoctorRoom.objects.select_for_update().filter(doctor=doctor).first()
    kept = found or DoctorRoom(doctor=doctor)
    if found is not None and found.room == room:
        return found
    kept.room = room
    kept.record(events.DOCTOR_ROOM_SET, {"doctor_id": doctor.pk, "room": room}, actor=actor)
    kept.save()
    return kept


def key_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def link_from_key(key: str, branch_id: int) -> DisplayLink | None:
    """The live display link of branch `branch_id` that `key` opens, else None (a forged,
    revoked or another branch's key)."""
    try:
        secret = signing.Signer(salt=DISPLAY_SALT).unsign(key)
    except signing.BadSignature:
        return None
    return DisplayLink.objects.filter(
        digest=key_digest(secret), branch_id=branch_id, revoked_at__isnull=True
    ).first()


@command
def display_link_create(
    *, actor: User | None, branch: Branch, name: str, language: str
) -> tuple[DisplayLink, str]:
    """A new display link and its key (shown once: only its digest is kept)."""
    require_role(actor, QUEUE_ADMINS)
    require_branch(actor, branch.pk, "Branch not found.")
    name = name.strip()
    if not name or len(name) > 80:
        raise InvalidInput(gettext_noop("Name the screen in 1 to 80 characters."), field="name")
    if language not in DisplayLink.Language.values:
        raise InvalidInput(gettext_noop("Choose English or Hindi."), field="language")
    secret = secrets.token_urlsafe(32)
    link = DisplayLink(
        branch=branch, name=name, language=language, digest=key_digest(secret), created_by=actor
    )
    link.record(
        events.DISPLAY_LINK_CREATED,
        {"branch_id": branch.pk, "language": language},
        actor=actor,
    )
    link.save()
    return link, signing.Signer(salt=DISPLAY_SALT).sign(secret)


@command
def display_link_revoke(*, actor: User | None, link: DisplayLink) -> DisplayLink:
    """Stops the link: its screens are told at once and refused from then on."""
    link = DisplayLink.objects.select_for_update().get(pk=link.pk)
    require_role(actor, QUEUE_ADMINS)
    require_branch(actor, link.branch_id, "Display link not found.")
    if link.revoked_at is not None:
        return link
    link.revoked_at = timezone.now()
    link.record(events.DISPLAY_LINK_REVOKED, {"branch_id": link.branch_id}, actor=actor)
    link.save()
    tell_revoked(link)
    return link
