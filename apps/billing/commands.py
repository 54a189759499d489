"""Billing commands: settings, tax rules, payments and refunds. Each appends its events."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone
from django_tenants.utils import get_tenant_model

from apps.billing import ledger
from apps.billing.models import (
    BillingSettings,
    Invoice,
    InvoiceCounter,
    Method,
    Payment,
    Refund,
    TaxRule,
)
from apps.billing.money import ZERO, check_amount, invoice_lines, money, totals
from apps.clinic.access import require_branch, require_role
from apps.clinic.models import WHOLE_TENANT_ROLES, Branch, User
from apps.core.db import connection
from apps.core.errors import Conflict, InvalidInput
from apps.eventstore.models import Actor
from apps.eventstore.store import command
from apps.scheduling.commands import FRONT_DESK
from apps.scheduling.models import Appointment

PAYABLE = (Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN, Appointment.Status.COMPLETED,
           Appointment.Status.NO_SHOW)  # fmt: skip


def billing_settings() -> BillingSettings:
    return BillingSettings.objects.filter(pk=1).first() or BillingSettings(pk=1)


def tenant_currency() -> str:
    """The currency of the tenant whose schema is active (ISO 4217)."""
    currency = getattr(getattr(connection, "tenant", None), "currency", None)
    if currency:
        return str(currency)
    tenant = get_tenant_model().objects.only("currency").get(schema_name=connection.schema_name)
    return str(tenant.currency)


def taxes_for(branch_id: int) -> list[tuple[str, Decimal]]:
    """The branch's own tax rules if it has any, else the tenant-wide ones."""
    rules = list(TaxRule.objects.filter(active=True, branch_id=branch_id).order_by("name"))
    if not rules:
        rules = list(TaxRule.objects.filter(active=True, branch__isnull=True).order_by("name"))
    return [(rule.name, rule.rate) for rule in rules]


def local_date_of(instant: datetime, branch: Branch) -> str:
    return instant.astimezone(ZoneInfo(branch.timezone)).date().isoformat()


@command
def billing_settings_update(*, actor: User | None, cancellation_policy: str) -> BillingSettings:
    require_role(actor, WHOLE_TENANT_ROLES)
    if cancellation_policy not in BillingSettings.CancellationPolicy.values:
        raise InvalidInput(
            f"Choose one of: {', '.join(BillingSettings.CancellationPolicy.values)}.",
            field="cancellation_policy",
        )
    settings = BillingSettings.objects.select_for_update().filter(pk=1).first() or BillingSettings(
        pk=1
    )
    settings.cancellation_policy = cancellation_policy
    settings.record(
        "BillingSettingsChanged", {"cancellation_policy": cancellation_policy}, actor=actor
    )
    settings.save()
    return settings


@command
def no_show_charges_update(
    *, actor: User | None, no_show_fee: Decimal, no_show_deposit: Decimal
) -> BillingSettings:
    """Sets the fee added to, and the deposit asked of, bookings by repeat no-shows."""
    require_role(actor, WHOLE_TENANT_ROLES)
    amounts = {}
    for field, amount in (("no_show_fee", no_show_fee), ("no_show_deposit", no_show_deposit)):
        amounts[field] = ZERO if amount == ZERO else check_amount(amount, field=field)
    settings = BillingSettings.objects.select_for_update().filter(pk=1).first() or BillingSettings(
        pk=1
    )
    settings.no_show_fee = amounts["no_show_fee"]
    settings.no_show_deposit = amounts["no_show_deposit"]
    settings.record(
        "NoShowChargesChanged", {key: str(value) for key, value in amounts.items()}, actor=actor
    )
    settings.save()
    return settings


NO_SHOW_FEE_LINE = "no_show_fee"


def charge_no_show_fee(*, appointment: Appointment, actor: Actor | None) -> Invoice | None:
    """Issues the invoice of a repeat no-show's new booking with the tenant's no-show fee
    as a line of its own (untaxed), so reception collects it with the consultation."""
    if not appointment.repeat_no_show:
        return None  # the common case costs no query
    fee = billing_settings().no_show_fee
    if fee <= ZERO:
        return None
    line = {"kind": NO_SHOW_FEE_LINE, "description": "No-show fee", "rate": "",
            "amount": str(money(fee))}  # fmt: skip
    return _issue_invoice(appointment, actor, extra_lines=[line])


@command
def tax_rule_add(
    *, actor: User | None, name: str, rate: Decimal, branch: Branch | None = None
) -> TaxRule:
    require_role(actor, WHOLE_TENANT_ROLES)
    if branch is not None:
        require_branch(actor, branch.pk, "Branch not found.")
    if not name.strip():
        raise InvalidInput("Name the tax, e.g. CGST.", field="name")
    if not isinstance(rate, Decimal) or not Decimal("0") < rate <= Decimal("100"):
        raise InvalidInput("A tax rate is more than 0 and at most 100 percent.", field="rate")
    rule = TaxRule(name=name.strip(), rate=rate, branch=branch)
    rule.record(
        "TaxRuleAdded",
        {"name": rule.name, "rate": str(rate), "branch_id": branch.pk if branch else None},
        actor=actor,
    )
    rule.save()
    return rule


def _issue_invoice(
    appointment: Appointment,
    actor: Actor | None,
    extra_lines: list[dict[str, str]] | None = None,
) -> Invoice:
    """Freezes the fee and taxes on a numbered invoice: the branch's next number, no gaps."""
    counter, _ = InvoiceCounter.objects.get_or_create(branch_id=appointment.branch_id)
    counter = InvoiceCounter.objects.select_for_update().get(pk=counter.pk)
    counter.last_number += 1
    counter.save()
    lines = invoice_lines(appointment.doctor.consultation_fee, taxes_for(appointment.branch_id))
    lines += extra_lines or []
    total, tax = totals(lines)
    invoice = Invoice(
        appointment=appointment,
        branch_id=appointment.branch_id,
        number=f"B{appointment.branch_id}-{counter.last_number:06d}",
        sequence=counter.last_number,
        currency=tenant_currency(),
        lines=lines,
        total=total,
        tax=tax,
    )
    invoice.record(
        "InvoiceIssued",
        {
            "appointment_id": appointment.pk,
            "branch_id": appointment.branch_id,
            "number": invoice.number,
            "currency": invoice.currency,
            "total": str(total),
            "tax": str(tax),
            "lines": lines,
        },
        actor=actor,
    )
    invoice.save()
    return invoice


def _locked_appointment(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update()
        .select_related("doctor", "branch")
        .get(pk=appointment.pk)
    )


@command
def payment_take(
    *,
    actor: User | None,
    appointment: Appointment,
    kind: str,
    amount: Decimal,
    method: str,
) -> Payment:
    """Takes a deposit or a balance payment; never more than is still due."""
    require_role(actor, FRONT_DESK)
    appointment = _locked_appointment(appointment)
    require_branch(actor, appointment.branch_id, "Appointment not found.")
    if kind not in Payment.Kind.values:
        raise InvalidInput("Kind is deposit or balance.", field="kind")
    if method not in Method.values:
        raise InvalidInput(f"Method is one of: {', '.join(Method.values)}.", field="method")
    amount = check_amount(amount)
    if appointment.status not in PAYABLE:
        raise Conflict(
            f"A {appointment.get_status_display().lower()} appointment takes no payment."
        )
    invoice = Invoice.objects.filter(appointment=appointment).first() or _issue_invoice(
        appointment, actor
    )
    due = ledger.balance_of(invoice).balance_due
    if amount > due:
        raise Conflict(f"That is more than the balance due ({invoice.currency} {due}).")
    if method == Method.CREDIT and amount > ledger.credit_of(appointment.patient_id):
        raise Conflict("The patient does not have that much credit.")
    payment = Payment(
        appointment=appointment,
        invoice=invoice,
        patient_id=appointment.patient_id,
        branch_id=appointment.branch_id,
        kind=kind,
        method=method,
        amount=amount,
    )
    received = timezone.now()
    payment.record(
        "PaymentTaken",
        {
            "appointment_id": appointment.pk,
            "invoice_id": invoice.pk,
            "patient_id": appointment.patient_id,
            "branch_id": appointment.branch_id,
            "kind": kind,
            "method": method,
            "amount": str(amount),
            "currency": invoice.currency,
            "date": local_date_of(received, appointment.branch),
        },
        actor=actor,
    )
    payment.save()
    return payment


def _refund(
    *, actor: User | None, payment: Payment, amount: Decimal, reason: str, method: str
) -> Refund:
    left = ledger.refundable(payment)
    if amount > left:
        raise Conflict(f"Only {payment.invoice.currency} {left} of this payment can be refunded.")
    refund = Refund(
        payment=payment, branch_id=payment.branch_id, amount=amount, method=method, reason=reason
    )
    refunded = timezone.now()
    # The reason is free text that may describe the patient: it stays in the row.
    refund.record(
        "RefundIssued",
        {
            "payment_id": payment.pk,
            "appointment_id": payment.appointment_id,
            "patient_id": payment.patient_id,
            "branch_id": payment.branch_id,
            "method": method,
            "amount": str(amount),
            "currency": payment.invoice.currency,
            "date": local_date_of(refunded, payment.branch),
        },
        actor=actor,
    )
    refund.save()
    return refund


@command
def payment_refund(*, actor: User | None, payment: Payment, amount: Decimal, reason: str) -> Refund:
    """Pays back part or all of a payment, by the payment's own method."""
    require_role(actor, FRONT_DESK)
    payment = (
        Payment.objects.select_for_update().select_related("invoice", "branch").get(pk=payment.pk)
    )
    require_branch(actor, payment.branch_id, "Payment not found.")
    amount = check_amount(amount)
    if not reason.strip():
        raise InvalidInput("Give a reason for the refund.", field="reason")
    return _refund(actor=actor, payment=payment, amount=amount, reason=reason.strip()[:200],
                   method=payment.method)  # fmt: skip


def settle_cancellation(*, appointment: Appointment, actor: User | None) -> dict[str, str]:
    """Applies the tenant's deposit policy to a cancelled appointment (inside its command)."""
    invoice = Invoice.objects.select_for_update().filter(appointment=appointment).first()
    if invoice is None:
        return {"policy": "none", "amount": "0.00"}
    policy = billing_settings().cancellation_policy
    kept = Decimal("0.00")
    for payment in (
        Payment.objects.select_for_update()
        .select_related("invoice", "branch")
        .filter(appointment=appointment)
    ):
        left = ledger.refundable(payment)
        if left <= 0:
            continue
        if policy == BillingSettings.CancellationPolicy.FEE:
            kept += left
            continue
        method = (
            payment.method if policy == BillingSettings.CancellationPolicy.REFUND else Method.CREDIT
        )
        _refund(
            actor=actor, payment=payment, amount=left, reason="Appointment cancelled", method=method
        )
        kept += left
    if policy == BillingSettings.CancellationPolicy.FEE:
        invoice.status = Invoice.Status.CANCELLATION_FEE
        invoice.lines = [{"kind": "cancellation_fee", "description": "Cancellation fee", "rate": "",
                          "amount": str(money(kept))}]  # fmt: skip
    else:
        invoice.status = Invoice.Status.VOID
        invoice.lines = []
    invoice.total, invoice.tax = totals(invoice.lines)
    invoice.record(
        "InvoiceSettledOnCancellation",
        {"appointment_id": appointment.pk, "policy": policy, "total": str(invoice.total)},
        actor=actor,
    )
    invoice.save()
    return {"policy": policy, "amount": str(money(kept))}
