"""What a signed-in patient may read: their own visits and invoices, bookable doctors."""

from django.db.models import QuerySet

from apps.billing.models import Invoice
from apps.scheduling.actors import PatientActor
from apps.scheduling.models import Appointment, Doctor, Patient, WaitlistEntry


def own_patient(actor: PatientActor) -> Patient:
    return Patient.objects.get(pk=actor.patient_id)


def own_appointments(actor: PatientActor) -> QuerySet[Appointment]:
    return Appointment.objects.filter(patient_id=actor.patient_id).select_related(
        "branch", "doctor"
    )


def own_invoices(actor: PatientActor) -> QuerySet[Invoice]:
    return (
        Invoice.objects.filter(appointment__patient_id=actor.patient_id)
        .select_related("appointment__doctor", "appointment__branch")
        .order_by("-issued", "-id")
    )


def bookable_doctors() -> QuerySet[Doctor]:
    return Doctor.objects.filter(active=True).select_related("branch")


def own_waitlist(actor: PatientActor) -> QuerySet[WaitlistEntry]:
    return (
        WaitlistEntry.objects.filter(patient_id=actor.patient_id)
        .select_related("branch")
        .order_by("-date", "-id")
    )
