"""Patient app commands: the tenant's settings, and a patient's own bookings.

A patient's booking, cancellation and rescheduling run scheduling's commands with the
patient as the actor, so they append the same events as the front desk's (and billing
reacts to them the same way); the app adds the tenant's rules for self-service first.
"""

from datetime import datetime, timedelta

from django.utils import timezone

from apps.billing.models import BillingSettings
from apps.clinic.access import require_role
from apps.clinic.models import WHOLE_TENANT_ROLES, User
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.eventstore.store import command
from apps.patientapp import events
from apps.patientapp.models import PatientAppSettings
from apps.scheduling import commands as scheduling
from apps.scheduling.actors import PatientActor
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.scheduling.selectors import is_repeat_no_show

MAX_WINDOW_HOURS = 168


@command
def patient_app_settings_update(
    *, actor: User | None, change_window_hours: int
) -> PatientAppSettings:
    require_role(actor, WHOLE_TENANT_ROLES)
    if not 0 <= change_window_hours <= MAX_WINDOW_HOURS:
        raise InvalidInput(f"Give 0 to {MAX_WINDOW_HOURS} hours.", field="change_window_hours")
    settings = PatientAppSettings.for_update()
    settings.change_window_hours = change_window_hours
    settings.record(
        events.PATIENT_APP_SETTINGS_CHANGED,
        {"change_window_hours": change_window_hours},
        actor=actor,
    )
    settings.save()
    return settings


DEPOSIT_REQUIRED = (
    "A deposit is required to book: please call or visit the clinic, which will book the "
    "visit with you."
)


@command
def patient_appointment_book(
    *, actor: PatientActor, doctor: Doctor, start: datetime, now: datetime | None = None
) -> Appointment:
    """Books for the signed-in patient. A repeat no-show of a tenant that asks a deposit of
    them is sent to reception (409), which takes the deposit with the booking."""
    patient = Patient.objects.get(pk=actor.patient_id)
    if BillingSettings.current().no_show_deposit > 0 and is_repeat_no_show(patient, now):
        raise Conflict(DEPOSIT_REQUIRED)
    return scheduling.appointment_book(
        actor=actor, doctor=doctor, patient=patient, start=start, now=now
    )


def _own_locked(actor: PatientActor, appointment: Appointment) -> Appointment:
    locked = Appointment.objects.select_for_update().filter(pk=appointment.pk).first()
    if locked is None or locked.patient_id != actor.patient_id:
        raise NotFound("Appointment not found.")
    return locked


def _require_change_window(appointment: Appointment, action: str, now: datetime | None) -> None:
    """Late changes are the clinic's to make: the slot can hardly be filled again."""
    if not Appointment.allows(action, appointment.status):
        return  # scheduling's command refuses it with the reason
    hours = PatientAppSettings.current().change_window_hours
    if appointment.start - (now or timezone.now()) < timedelta(hours=hours):
        raise Conflict(
            f"Appointments can be changed in the app until {hours} hours before they start. "
            "Please call the clinic."
        )


@command
def patient_appointment_cancel(
    *, actor: PatientActor, appointment: Appointment, reason: str, now: datetime | None = None
) -> Appointment:
    appointment = _own_locked(actor, appointment)
    _require_change_window(appointment, "cancel", now)
    return scheduling.appointment_cancel(
        actor=actor, appointment=appointment, reason=reason, now=now
    )


@command
def patient_appointment_reschedule(
    *, actor: PatientActor, appointment: Appointment, start: datetime, now: datetime | None = None
) -> Appointment:
    appointment = _own_locked(actor, appointment)
    _require_change_window(appointment, "reschedule", now)
    return scheduling.appointment_reschedule(
        actor=actor, appointment=appointment, start=start, now=now
    )
