"""The demo chain that `make run` seeds on an empty database."""

from dataclasses import dataclass

from django.db import transaction
from django_tenants.utils import schema_context

from apps.clinic.commands import branch_create, staff_create
from apps.clinic.models import Branch, Role
from apps.tenants.commands import tenant_domain, tenant_onboard
from apps.tenants.models import Tenant

DEMO_SLUG = "demo"
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
        people = [
            ("Vikram Shah", "manager", Role.MANAGER, []),
            ("Meera Iyer", "reception.main", Role.RECEPTIONIST, [main]),
            ("Rahul Das", "reception.bandra", Role.RECEPTIONIST, [second]),
            ("Dr. Kavita Menon", "dr.menon", Role.DOCTOR, [main]),
            ("Dr. Arjun Patel", "dr.patel", Role.DOCTOR, [main]),
            ("Dr. Sana Qureshi", "dr.qureshi", Role.DOCTOR, [second]),
            ("Dr. Rohan Gupta", "dr.gupta", Role.DOCTOR, [second]),
        ]
        for name, local_part, role, branches in people:
            staff_create(
                actor=None,
                name=name,
                email=f"{local_part}@{DEMO_SLUG}.example.com",
                password=DEMO_PASSWORD,
                role=role,
                branches=branches,
            )
    return DemoLogin(onboarded.domain, owner_email, DEMO_PASSWORD, created=True)
