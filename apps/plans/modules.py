"""The modules a plan may include, and the one table that says which routes belong to which.

Every route of a module outside the tenant's plan answers 402 (`apps.plans.gate`): JSON
`{"detail", "module"}` under /api/ and /fhir/, the "not in your plan" page elsewhere. A new
app whose routes belong to a module joins by adding one `Gate` line to `GATES`; routes that
match no line belong to no module and are never gated (scheduling, the core of every plan).
"""

import re
from dataclasses import dataclass
from functools import cache

SCHEDULING = "scheduling"
BILLING = "billing"
RECONCILIATION = "reconciliation"
PATIENT_APP = "patient_app"
REMINDERS = "reminders"
INTEGRATION = "integration"

MODULES = (SCHEDULING, BILLING, RECONCILIATION, PATIENT_APP, REMINDERS, INTEGRATION)


@dataclass(frozen=True)
class Gate:
    """Paths matching `pattern` (a regular expression on the path, anchored at its start)
    belong to `module`."""

    pattern: str
    module: str


GATES: tuple[Gate, ...] = (
    # billing: invoices, payments, refunds, discounts, billing settings and the console's pay
    # and receipt pages
    Gate(r"/api/v1/appointments/[^/]+/(payments|invoice)/", BILLING),
    Gate(r"/api/v1/(payments|invoices|billing)/", BILLING),
    Gate(r"/reception/branches/[^/]+/appointments/[^/]+/pay/", BILLING),
    Gate(r"/reception/appointments/[^/]+/invoice/", BILLING),
    Gate(r"/setup/billing/", BILLING),
    Gate(r"/admin/billing/", BILLING),
    # GST documents: printing and issuing them at the desk
    Gate(r"/api/v1/gst-documents/", BILLING),
    Gate(r"/reception/gst-documents/", BILLING),
    Gate(r"/reception/branches/[^/]+/appointments/[^/]+/gst/", BILLING),
    # reconciliation: declarations, daily closes, reports and warehouse analytics
    Gate(r"/api/v1/reconciliation/", RECONCILIATION),
    Gate(r"/reception/branches/[^/]+/declare/", RECONCILIATION),
    Gate(r"/admin/reconciliation/", RECONCILIATION),
    # gateway and bank settlements and their exception queue
    Gate(r"/api/v1/settlements/", RECONCILIATION),
    Gate(r"/reception/settlements/", RECONCILIATION),
    Gate(r"/admin/settlements/", RECONCILIATION),
    # patient_app: the patient-facing API
    Gate(r"/api/v1/patient/", PATIENT_APP),
    Gate(r"/admin/patientapp/", PATIENT_APP),
    # reminders: patient messages, their dead letters and settings
    Gate(r"/api/v1/notifications/", REMINDERS),
    Gate(r"/admin/notifications/", REMINDERS),
    # integration: HL7 v2 channels and messages, FHIR R4
    Gate(r"/api/v1/integrations/", INTEGRATION),
    Gate(r"/fhir/", INTEGRATION),
    Gate(r"/admin/integration/", INTEGRATION),
)


@cache
def _compiled() -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(gate.pattern), gate.module) for gate in GATES)


def module_of(path: str) -> str | None:
    """The module a path belongs to, or None when it belongs to none (never gated)."""
    for pattern, module in _compiled():
        if pattern.match(path):
            return module
    return None
