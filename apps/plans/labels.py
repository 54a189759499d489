"""What plans and modules are called on a page, in the page's language.

A plan is stored by its slug and a module by its code; their names and descriptions are rows
that platform operators may edit. The ones the platform ships with are marked here for
translation: a page shows the translation while the row still says what it shipped with, and
the row's own words once an operator has changed them (or for a plan or module added since).
The API answers with the rows as they are (`plan_name`, the 402's `detail`), in English.
"""

from django.utils.translation import gettext, gettext_noop

from apps.plans.models import Module, Plan
from apps.plans.modules import (
    BILLING,
    INTEGRATION,
    PATIENT_APP,
    RECONCILIATION,
    REMINDERS,
    SCHEDULING,
)

# As `plans/migrations/0002_default_plans.py` seeded them.
PLAN_NAMES = {
    "clinic": gettext_noop("Clinic"),
    "chain": gettext_noop("Chain"),
    "hospital": gettext_noop("Hospital"),
}
MODULE_NAMES = {
    SCHEDULING: gettext_noop("Scheduling"),
    BILLING: gettext_noop("Billing"),
    RECONCILIATION: gettext_noop("Reconciliation and analytics"),
    PATIENT_APP: gettext_noop("Patient app"),
    REMINDERS: gettext_noop("Reminders"),
    INTEGRATION: gettext_noop("Integration (HL7 / FHIR)"),
}
MODULE_ADDS = {
    SCHEDULING: gettext_noop(
        "Doctors' hours and leave, bookings, the live board, the calendar and the waitlist."
    ),
    BILLING: gettext_noop(
        "Invoices with GST, deposits and payments by cash, card and UPI, refunds, discounts and "
        "printed receipts."
    ),
    RECONCILIATION: gettext_noop(
        "Day-end cash and settlement counts against takings, daily closes, weekly and monthly "
        "variance across branches, and the chain analytics from the warehouse."
    ),
    PATIENT_APP: gettext_noop(
        "Patients sign in with their phone number, book, move and cancel their own visits, join "
        "waitlists and read their invoices."
    ),
    REMINDERS: gettext_noop(
        "Booking confirmations, reminders and waitlist offers by SMS, WhatsApp or email, in the "
        "patient's language, with a dead-letter list for what could not be sent."
    ),
    INTEGRATION: gettext_noop(
        "HL7 v2 messages over MLLP and a FHIR R4 API, so the hospital's other systems share "
        "patients, schedules and appointments with MyMedic."
    ),
}


def _shown(stored: str, shipped: str | None) -> str:
    return gettext(shipped) if shipped is not None and stored == shipped else stored


def plan_label(slug: str, name: str) -> str:
    """The plan `slug` (stored name `name`) as a page shows it."""
    return _shown(name, PLAN_NAMES.get(slug))


def module_label(module: Module) -> str:
    return _shown(module.name, MODULE_NAMES.get(module.code))


def module_adds(module: Module) -> str:
    return _shown(module.adds, MODULE_ADDS.get(module.code))


def plan_of(plan: Plan) -> str:
    return plan_label(plan.slug, plan.name)


# A subscription's states and a plan's pricing, as `Subscription.Status` and `Plan.Pricing`
# spell them in English.
STATUS_NAMES = {
    "trial": gettext_noop("Trial"),
    "active": gettext_noop("Active"),
    "past_due": gettext_noop("Past due"),
    "suspended": gettext_noop("Suspended"),
    "closed": gettext_noop("Closed"),
}
PRICING_NAMES = {
    "per_doctor": gettext_noop("Per active doctor"),
    "per_branch": gettext_noop("Per branch, plus booking tiers"),
    "per_module": gettext_noop("Per module"),
}


def status_label(status: str) -> str:
    shipped = STATUS_NAMES.get(status)
    return gettext(shipped) if shipped is not None else status


def pricing_label(pricing: str) -> str:
    shipped = PRICING_NAMES.get(pricing)
    return gettext(shipped) if shipped is not None else pricing
