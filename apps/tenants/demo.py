"""The demo chain that `make run` seeds on an empty database."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.billing.commands import gst_supplier_set
from apps.clinic.commands import branch_create, staff_create
from apps.clinic.models import Branch, Role
from apps.scheduling.commands import appointment_book, doctor_add, patient_register
from apps.scheduling.models import Doctor
from apps.scheduling.slots import free_slots
from apps.tenants.commands import tenant_domain, tenant_onboard
from apps.tenants.models import Tenant

DEMO_SLUG = "demo"
SPECIALTIES = ["General medicine", "Paediatrics", "Dermatology", "Orthopaedics"]
# Monday to Saturday, 09:00–13:00 and 16:00–20:00 (a long lunch break, as Indian OPDs keep).
CLINIC_HOURS = [
    {"weekday": day, "start": start, "end": end}
    for day in range(6)
    for start, end in (("09:00", "13:00"), ("16:00", "20:00"))
]
DEMO_PATIENTS = [
    ("Ravi Kumar", "+919812345601"),
    ("Anjali Sharma", "+919812345602"),
    ("Mohammed Iqbal", "+919812345603"),
    ("Lakshmi Narayanan", "+919812345604"),
]
DEMO_PASSWORD = "demo-clinic-2026"  # noqa: S105  (local demo data, printed by `make run`)


@dataclass(frozen=True)
class DemoLogin:
    domain: str
    email: str
    password: str
    created: bool


@transaction.atomic
def seed_demo_chain() -> DemoLogin:
    owner_email = f"owner@{DEMO_SLUG}.example.com"
    if Tenant.objects.filter(slug=DEMO_SLUG).exists():
        return DemoLogin(tenant_domain(DEMO_SLUG), owner_email, DEMO_PASSWORD, created=False)
    onboarded = tenant_onboard(
        verified=True,
        clinic_name="Demo Health Chain",
        slug=DEMO_SLUG,
        kind=Tenant.Kind.CHAIN,
        owner_name="Asha Rao",
        owner_email=owner_email,
        owner_password=DEMO_PASSWORD,
    )
    with schema_context(onboarded.tenant.schema_name):
        main = Branch.objects.get()
        second = branch_create(
            actor=None, name="Bandra West", city="Mumbai", timezone="Asia/Kolkata"
        )
        # A sample GSTIN (valid check character) so the desk can issue GST documents.
        gst_supplier_set(
            actor=None,
            legal_name="Demo Health Chain Private Limited",
            gstin="27AAPFU0939F1ZV",
            address="12 Hill Road, Bandra West, Mumbai 400050",
        )
        people = [
            ("Vikram Shah", "manager", Role.MANAGER, []),
            ("Meera Iyer", "reception.main", Role.RECEPTIONIST, [main]),
            ("Rahul Das", "reception.bandra", Role.RECEPTIONIST, [second]),
            ("Dr. Kavita Menon", "dr.menon", Role.DOCTOR, [main]),
            ("Dr. Arjun Patel", "dr.patel", Role.DOCTOR, [main]),
            ("Dr. Sana Qureshi", "dr.qureshi", Role.DOCTOR, [second]),
            ("Dr. Rohan Gupta", "dr.gupta", Role.DOCTOR, [second]),
        ]
        doctors: list[Doctor] = []
        for name, local_part, role, branches in people:
            user = staff_create(
                actor=None,
                name=name,
                email=f"{local_part}@{DEMO_SLUG}.example.com",
                password=DEMO_PASSWORD,
                role=role,
                branches=branches,
            )
            if role == Role.DOCTOR:
                doctors.append(
                    doctor_add(
                        actor=None,
                        branch=branches[0],
                        user=user,
                        name=name,
                        specialty=SPECIALTIES[len(doctors) % len(SPECIALTIES)],
                        slot_minutes=15,
                        consultation_fee=Decimal("600.00"),
                        weekly_hours=CLINIC_HOURS,
                    )
                )
        patients = [
            patient_register(actor=None, name=name, phone=phone, branch=main)
            for name, phone in DEMO_PATIENTS
        ]
        tomorrow = timezone.now().astimezone(ZoneInfo("Asia/Kolkata")).date() + timedelta(days=1)
        for doctor, patient in zip(doctors, patients, strict=False):
            slots = free_slots(doctor, tomorrow)
            if slots:
                appointment_book(actor=None, doctor=doctor, patient=patient, start=slots[0].start)
    return DemoLogin(onboarded.domain, owner_email, DEMO_PASSWORD, created=True)
