from decimal import Decimal
from typing import Any

from django.db import migrations
from django.utils import timezone

from apps.core.db import REFUSE_CHANGE_FUNCTION

# A subscription change is recorded once: a trigger refuses UPDATE (DELETE stays possible, so a
# tenant that is removed takes its history with it).
REFUSE_UPDATE = """
CREATE TRIGGER plans_subscriptionchange_append_only BEFORE UPDATE ON plans_subscriptionchange
FOR EACH ROW EXECUTE FUNCTION public.mymedic_refuse_change();
"""

MODULES = [
    ("scheduling", "Scheduling", "0",
     "Doctors' hours and leave, bookings, the live board, the calendar and the waitlist."),
    ("billing", "Billing", "1500",
     "Invoices with GST, deposits and payments by cash, card and UPI, refunds, discounts and "
     "printed receipts."),
    ("reconciliation", "Reconciliation and analytics", "3000",
     "Day-end cash and settlement counts against takings, daily closes, weekly and monthly "
     "variance across branches, and the chain analytics from the warehouse."),
    ("patient_app", "Patient app", "2000",
     "Patients sign in with their phone number, book, move and cancel their own visits, join "
     "waitlists and read their invoices."),
    ("reminders", "Reminders", "1000",
     "Booking confirmations, reminders and waitlist offers by SMS, WhatsApp or email, in the "
     "patient's language, with a dead-letter list for what could not be sent."),
    ("integration", "Integration (HL7 / FHIR)", "10000",
     "HL7 v2 messages over MLLP and a FHIR R4 API, so the hospital's other systems share "
     "patients, schedules and appointments with MyMedic."),
]  # fmt: skip

PLANS = [
    {
        "slug": "clinic", "name": "Clinic", "pricing": "per_doctor", "unit_price": "999",
        "booking_tiers": [], "max_doctors": 15, "max_branches": 2, "for_kind": "clinic",
        "modules": ["scheduling", "billing", "patient_app", "reminders"],
    },
    {
        "slug": "chain", "name": "Chain", "pricing": "per_branch", "unit_price": "4999",
        "booking_tiers": [
            {"up_to": 5000, "per_booking": "0.00"},
            {"up_to": 20000, "per_booking": "2.00"},
            {"up_to": None, "per_booking": "1.00"},
        ],
        "max_doctors": 300, "max_branches": 50, "for_kind": "chain",
        "modules": ["scheduling", "billing", "reconciliation", "patient_app", "reminders"],
    },
    {
        "slug": "hospital", "name": "Hospital", "pricing": "per_module", "unit_price": "25000",
        "booking_tiers": [], "max_doctors": 2000, "max_branches": 20, "for_kind": "hospital",
        "modules": [code for code, *_ in MODULES],
    },
]  # fmt: skip


def seed(apps: Any, schema_editor: Any) -> None:
    module_model = apps.get_model("plans", "Module")
    plan_model = apps.get_model("plans", "Plan")
    for code, name, price, adds in MODULES:
        module_model.objects.update_or_create(
            code=code, defaults={"name": name, "adds": adds, "monthly_price": Decimal(price)}
        )
    for spec in PLANS:
        fields = {k: v for k, v in spec.items() if k != "modules"}
        fields["unit_price"] = Decimal(fields["unit_price"])
        plan, _ = plan_model.objects.update_or_create(slug=fields.pop("slug"), defaults=fields)
        plan.modules.set(module_model.objects.filter(code__in=spec["modules"]))
    # Tenants made before plans existed go on as paying customers of their kind's plan.
    tenant_model = apps.get_model("tenants", "Tenant")
    subscription_model = apps.get_model("plans", "Subscription")
    change_model = apps.get_model("plans", "SubscriptionChange")
    now = timezone.now()
    for tenant in tenant_model.objects.exclude(schema_name="public"):
        plan = plan_model.objects.get(for_kind=tenant.kind)
        subscription_model.objects.create(
            tenant=tenant, plan=plan, status="active", started_at=tenant.created, changed_at=now
        )
        change_model.objects.create(
            tenant=tenant, at=now, from_status="", to_status="active", plan=plan,
            by="migration", reason="subscriptions introduced",
        )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("plans", "0001_initial"), ("tenants", "0007_spare_schema_recipe")]

    operations = [
        # The public schema migrates before any tenant schema, whose migrations make it too.
        migrations.RunSQL(REFUSE_CHANGE_FUNCTION, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(
            REFUSE_UPDATE,
            reverse_sql="DROP TRIGGER IF EXISTS plans_subscriptionchange_append_only"
            " ON plans_subscriptionchange;",
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
