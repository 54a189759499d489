"""Event type names live once, in each app's `events.py`, and never change: stored events
carry them and replay reads them back."""

import ast
from pathlib import Path

from apps.billing import events as billing
from apps.clinic import events as clinic
from apps.fhir import events as fhir
from apps.integration import events as integration
from apps.notifications import events as notifications
from apps.patientapp import events as patientapp
from apps.queue import events as queue
from apps.reconciliation import events as reconciliation
from apps.scheduling import events as scheduling
from apps.settlements import events as settlements

REGISTRIES = [billing, clinic, notifications, patientapp, reconciliation, scheduling]
REGISTRIES += [settlements, fhir]
REGISTRIES.append(integration)
REGISTRIES.append(queue)
APPS = Path(__file__).resolve().parent.parent / "apps"

# The log's contract: every type ever appended. Adding one is fine; changing one is not.
STORED_TYPES = {
    "AppointmentBooked", "AppointmentCancelled", "AppointmentCheckedIn", "AppointmentCompleted",
    "AppointmentMarkedNoShow", "AppointmentNoShowUndone", "AppointmentRescheduled",
    "BillingSettingsChanged", "BranchClosed", "BranchOpened", "BranchReopened", "BranchUpdated",
    "ConcessionRefunded", "CreditNoteIssued", "DailyCloseSignedOff", "DeclarationMade",
    "DiscountCapChanged", "DiscountGranted", "DoctorAdded", "DoctorLeaveGranted",
    "DoctorLeaveRemoved", "DoctorUpdated", "InvoiceAdjusted", "InvoiceIssued",
    "MessageSent",
    "InvoiceSettledOnCancellation", "NoShowChargesChanged", "NoShowPolicyChanged",
    "NotificationSettingsChanged", "OverpaymentRefunded", "PatientAppSettingsChanged",
    "PatientErased", "PatientRegistered", "PaymentTaken", "ReconciliationToleranceSet",
    "RefundIssued", "SchedulingSettingsChanged", "SlotHeld", "SlotHoldConsumed",
    "SlotHoldExpired", "SlotHoldReleased", "TaxRuleAdded", "WaitlistFulfilled", "WaitlistJoined",
    "WaitlistLeft", "WaitlistOfferExpired", "WaitlistOffered",
    "InvoiceItemAdded", "GstSupplierSet", "GstRateSet", "GstDocumentIssued",
}  # fmt: skip
STORED_TYPES |= {
    "BankLineImported", "BranchUpiSet", "GatewayAdjustmentBooked", "GatewayPaymentLinked",
    "GatewayPaymentSettled", "GatewayRefundSettled", "GatewayRowDuplicated",
    "GatewayRowUnmatched", "PaymentWebhookReceived", "SettlementBanked",
    "SettlementExceptionRaised", "SettlementExceptionResolved", "SettlementFileImported",
    "SettlementFileReceived", "SettlementRecorded", "SettlementSettingsChanged",
    "WebhookSecretSet",
    "FhirBulkExportRequested", "FhirBulkExportCompleted", "FhirBulkExportFailed",
    "FhirBulkExportCancelled",
}  # fmt: skip
STORED_TYPES |= {"PatientUpdated", "PatientMerged"}
STORED_TYPES |= {
    "Hl7ChannelAdded", "Hl7MappingActivated", "Hl7MappingDrafted", "Hl7PatientLinked",
    "PatientAdmitted", "PatientDischarged",
}  # fmt: skip
STORED_TYPES |= {"Hl7ChannelEdited", "Hl7MappingTested"}
STORED_TYPES |= {
    "ConsultationEnded", "ConsultationStarted", "DisplayLinkCreated", "DisplayLinkRevoked",
    "DoctorRoomSet", "PatientCalled",
}  # fmt: skip


def registered() -> dict[str, str]:
    return {
        f"{module.__name__}.{name}": value
        for module in REGISTRIES
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str)
    }


def test_every_stored_event_type_keeps_its_name_in_a_registry() -> None:
    assert set(registered().values()) == STORED_TYPES


def test_each_event_type_is_named_once() -> None:
    values = list(registered().values())
    assert len(values) == len(set(values))


def test_no_module_spells_an_event_type_outside_its_registry() -> None:
    spelled = []
    for path in APPS.rglob("*.py"):
        if path.name == "events.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in STORED_TYPES:
                spelled.append(f"{path.relative_to(APPS)}:{node.lineno} {node.value}")
    assert spelled == []
