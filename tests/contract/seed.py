"""A small committed clinic for the contract tests: one of each role, and one of each thing
an operation's path can name, so that generated requests reach real rows."""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django_tenants.utils import schema_context

from apps.billing import commands as billing
from apps.billing.models import Invoice
from apps.clinic import tokens
from apps.clinic.commands import staff_create
from apps.clinic.models import Branch, Role, User
from apps.patientapp import auth as patient_auth
from apps.scheduling import commands as scheduling
from apps.scheduling.models import Patient
from apps.scheduling.waitlist import waitlist_join
from apps.tenants.models import Tenant

PASSWORD = "contract-clinic-2026"
EVERY_DAY = [{"weekday": day, "start": "08:00", "end": "20:00"} for day in range(7)]


@dataclass
class Clinic:
    """Ids of the seeded rows, and who signs in as each role."""

    tenant: str
    users: dict[str, int] = field(default_factory=dict)
    patient: int = 0
    ids: dict[str, int] = field(default_factory=dict)

    def token(self, role: str) -> str | None:
        """A fresh token for `role` (`anonymous` has none)."""
        if role == "anonymous":
            return None
        with schema_context(self.tenant):
            if role == "patient":
                return patient_auth.issue_token(Patient.objects.get(pk=self.patient))
            return tokens.mint(User.objects.get(pk=self.users[role]))


def seed(tenant: Tenant) -> Clinic:
    clinic = Clinic(tenant=tenant.schema_name)
    with schema_context(tenant.schema_name):
        owner = User.objects.get(email=f"owner@{tenant.slug}.example.com")
        branch = Branch.objects.get(name="Main branch")
        clinic.users["owner"] = owner.pk
        for role in (Role.MANAGER, Role.RECEPTIONIST, Role.DOCTOR):
            user = staff_create(
                actor=owner, name=f"Contract {role}", email=f"{role}@{tenant.slug}.example.com",
                password=PASSWORD, role=role, branches=[branch],
            )  # fmt: skip
            clinic.users[str(role)] = user.pk
        doctor = scheduling.doctor_add(
            actor=owner, branch=branch, name="Dr. Neha Joshi", specialty="General",
            slot_minutes=30, consultation_fee=Decimal("500.00"), weekly_hours=EVERY_DAY,
            user=User.objects.get(pk=clinic.users["doctor"]),
        )  # fmt: skip
        patient = scheduling.patient_register(
            actor=owner, name="Asha Rao", phone="+919812345678", email="asha@example.com"
        )
        clinic.patient = patient.pk
        zone = ZoneInfo(branch.timezone)
        tomorrow = timezone.now().astimezone(zone).date() + timedelta(days=1)
        at = datetime.combine(tomorrow, time(10, 0), zone)
        visit = scheduling.appointment_book(actor=owner, doctor=doctor, patient=patient, start=at)
        payment = billing.payment_take(
            actor=owner, appointment=visit, kind="deposit", amount=Decimal("200.00"), method="cash"
        )
        invoice = Invoice.objects.get(appointment=visit)
        entry = waitlist_join(actor=owner, doctor=doctor, patient=patient, day=tomorrow)
        clinic.ids = {
            "branches": branch.pk, "doctors": doctor.pk, "patients": patient.pk,
            "appointments": visit.pk, "payments": payment.pk, "invoices": invoice.pk,
            "waitlist": entry.pk,
        }  # fmt: skip
    return clinic


def existing_ids(clinic: Clinic, path: str) -> dict[str, Any]:
    """Path parameters naming seeded rows: `/api/v1/invoices/{id}/lines/{line}/` → ids."""
    parts = [part for part in path.strip("/").split("/") if part not in ("api", "v1", "patient")]
    found: dict[str, Any] = {}
    for collection, value in zip(parts, parts[1:], strict=False):
        if value == "{id}" and collection in clinic.ids:
            found["id"] = clinic.ids[collection]
        if value == "{line}":
            found["line"] = 0  # the consultation fee, the first line of every invoice
    return found
