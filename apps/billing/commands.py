"""Billing commands: settings, tax rules, payments and refunds. Each appends its events."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings as project
from django.utils import timezone, translation
from django.utils.translation import gettext_noop
from django_tenants.utils import get_tenant_model

from apps.billing import documents, events, gst, ledger
from apps.billing.models import (
    DISCOUNT_CATEGORIES,
    REFUND_EVENTS,
    BillingSettings,
    CreditNoteCounter,
    GstDocument,
    GstRate,
    GstSupplier,
    Invoice,
    InvoiceAdjustment,
    InvoiceCounter,
    Method,
    Payment,
    Refund,
    TaxRule,
)
from apps.billing.money import (
    MAX_AMOUNT,
    NOT_CHARGES,
    PAISA,
    ZERO,
    charges_of,
    check_amount,
    invoice_lines,
    money,
    reprice,
    totals,
)
from apps.clinic.access import (
    DISCOUNT_ROLES,
    discount_cap_percent,
    require_branch,
    require_role,
)
from apps.clinic.models import WHOLE_TENANT_ROLES, Branch, User
from apps.core.clinictime import format_money
from apps.core.db import connection
from apps.core.errors import Conflict, InvalidInput
from apps.eventstore.models import Actor
from apps.eventstore.store import command
from apps.scheduling.commands import FRONT_DESK
from apps.scheduling.models import Appointment

PAYABLE = (
    Appointment.Status.BOOKED,
    Appointment.Status.CHECKED_IN,
    Appointment.Status.COMPLETED,
    Appointment.Status.NO_SHOW,
)


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
    settings = BillingSettings.for_update()
    settings.cancellation_policy = cancellation_policy
    settings.record(
        events.BILLING_SETTINGS_CHANGED, {"cancellation_policy": cancellation_policy}, actor=actor
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
    settings = BillingSettings.for_update()
    settings.no_show_fee = amounts["no_show_fee"]
    settings.no_show_deposit = amounts["no_show_deposit"]
    settings.record(
        events.NO_SHOW_CHARGES_CHANGED,
        {key: str(value) for key, value in amounts.items()},
        actor=actor,
    )
    settings.save()
    return settings


@command
def receptionist_discount_cap_update(*, actor: User | None, percent: Decimal) -> BillingSettings:
    """Sets how much of a bill (percent of its charges) a receptionist may discount in all."""
    require_role(actor, WHOLE_TENANT_ROLES)
    if (
        not isinstance(percent, Decimal)
        or not percent.is_finite()
        or not ZERO <= percent <= Decimal("100")
        or percent != percent.quantize(PAISA)
    ):
        raise InvalidInput(
            gettext_noop("A cap is a percent from 0 to 100."), field="receptionist_discount_cap"
        )
    settings = BillingSettings.for_update()
    settings.receptionist_discount_cap = percent
    settings.record(
        events.DISCOUNT_CAP_CHANGED, {"receptionist_percent": str(percent)}, actor=actor
    )
    settings.save()
    return settings


NO_SHOW_FEE_LINE = "no_show_fee"


def charge_no_show_fee(*, appointment: Appointment, actor: Actor | None) -> Invoice | None:
    """Issues the invoice of a repeat no-show's new booking with the tenant's no-show fee
    as a line of its own (untaxed), so reception collects it with the consultation."""
    if not appointment.repeat_no_show:
        return None  # the common case costs no query
    fee = BillingSettings.current().no_show_fee
    if fee <= ZERO:
        return None
    line = {
        "kind": NO_SHOW_FEE_LINE,
        "description": "No-show fee",
        "rate": "",
        "amount": str(money(fee)),
    }
    return _issue_invoice(appointment, actor, extra_lines=[line])


@command
def tax_rule_add(
    *, actor: User | None, name: str, rate: Decimal, branch: Branch | None = None
) -> TaxRule:
    require_role(actor, WHOLE_TENANT_ROLES)
    if branch is not None:
        require_branch(actor, branch.pk, "Branch not found.")
    if not name.strip():
        raise InvalidInput(gettext_noop("Name the tax, e.g. CGST."), field="name")
    if not isinstance(rate, Decimal) or not Decimal("0") < rate <= Decimal("100"):
        raise InvalidInput(
            gettext_noop("A tax rate is more than 0 and at most 100 percent."), field="rate"
        )
    rule = TaxRule(name=name.strip(), rate=rate, branch=branch)
    rule.record(
        events.TAX_RULE_ADDED,
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
        events.INVOICE_ISSUED,
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
        raise InvalidInput(gettext_noop("Kind is deposit or balance."), field="kind")
    if method not in Method.values:
        raise InvalidInput(f"Method is one of: {', '.join(Method.values)}.", field="method")
    amount = check_amount(amount)
    if appointment.status not in PAYABLE:
        raise Conflict(
            gettext_noop("A %(status)s appointment takes no payment."),
            params={"status": appointment.status_label()},
        )
    invoice = Invoice.objects.filter(appointment=appointment).first() or _issue_invoice(
        appointment, actor
    )
    due = ledger.balance_of(invoice).balance_due
    if amount > due:
        raise Conflict(
            gettext_noop("That is more than the balance due (%(due)s)."),
            params={"due": format_money(due, invoice.currency)},
        )
    if method == Method.CREDIT and amount > ledger.credit_of(appointment.patient_id):
        raise Conflict(gettext_noop("The patient does not have that much credit."))
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
        events.PAYMENT_TAKEN,
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
    *,
    actor: User | None,
    payment: Payment,
    amount: Decimal,
    reason: str,
    method: str,
    kind: str = Refund.Kind.REFUND,
    adjustment: InvoiceAdjustment | None = None,
) -> Refund:
    left = ledger.refundable(payment)
    if amount > left:
        raise Conflict(
            gettext_noop("Only %(left)s of this payment can be refunded."),
            params={"left": format_money(left, payment.invoice.currency)},
        )
    refund = Refund(
        payment=payment,
        branch_id=payment.branch_id,
        amount=amount,
        method=method,
        reason=reason,
        kind=kind,
        adjustment=adjustment,
    )
    refunded = timezone.now()
    # The reason is free text that may describe the patient: it stays in the row.
    refund.record(
        REFUND_EVENTS[Refund.Kind(kind)],
        {
            "kind": kind,
            "adjustment_id": adjustment.pk if adjustment else None,
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
        raise InvalidInput(gettext_noop("Give a reason for the refund."), field="reason")
    return _refund(
        actor=actor,
        payment=payment,
        amount=amount,
        reason=reason.strip()[:200],
        method=payment.method,
    )


def _locked_payment(actor: User | None, payment: Payment) -> Payment:
    payment = (
        Payment.objects.select_for_update()
        .select_related("invoice", "branch", "appointment")
        .get(pk=payment.pk)
    )
    require_branch(actor, payment.branch_id, "Payment not found.")
    return payment


# What an empty reason is refused with, by what the reason is for.
REASON_NEEDED = {
    "refund": gettext_noop("Give a reason for the refund."),
    "concession": gettext_noop("Give a reason for the concession."),
    "discount": gettext_noop("Give a reason for the discount."),
    "credit note": gettext_noop("Give a reason for the credit note."),
}


def _reason(reason: str, what: str) -> str:
    if not reason.strip():
        raise InvalidInput(REASON_NEEDED[what], field="reason")
    return reason.strip()[:200]


@command
def payment_refund_overpayment(
    *, actor: User | None, payment: Payment, amount: Decimal, reason: str
) -> Refund:
    """Pays back money paid beyond the bill (after a discount or a credit note, say). The
    bill does not change, so nothing becomes owed again."""
    require_role(actor, FRONT_DESK)
    payment = _locked_payment(actor, payment)
    amount = check_amount(amount)
    reason = _reason(reason, "refund")
    invoice = Invoice.objects.select_for_update().get(pk=payment.invoice_id)
    overpaid = ledger.balance_of(invoice).overpaid
    if amount > overpaid:
        raise Conflict(
            gettext_noop(
                "Only %(overpaid)s was paid beyond the bill; a refund of more would leave the "
                "patient owing it. Give a discount or concession instead."
            ),
            params={"overpaid": format_money(overpaid, invoice.currency)},
        )
    return _refund(
        actor=actor,
        payment=payment,
        amount=amount,
        reason=reason,
        method=payment.method,
        kind=Refund.Kind.OVERPAYMENT,
    )


@command
def payment_refund_concession(
    *, actor: User | None, payment: Payment, category: str, amount: Decimal, reason: str
) -> Refund:
    """Takes `amount` off the bill as a concession and pays back, from this payment, what the
    patient has then paid beyond the new bill (the concession and its tax, at most)."""
    require_role(actor, FRONT_DESK)
    payment = _locked_payment(actor, payment)
    reason = _reason(reason, "concession")
    adjustment = _discount(
        actor=actor,
        appointment=payment.appointment,
        category=category,
        amount=amount,
        percent=None,
        reason=reason,
    )
    overpaid = ledger.balance_of(adjustment.invoice).overpaid
    back = min(overpaid, adjustment.total_reduction)
    if back <= ZERO:
        raise Conflict(
            gettext_noop(
                "Nothing was paid beyond the reduced bill, so there is no money to give back: "
                "give the concession as a discount instead."
            )
        )
    return _refund(
        actor=actor,
        payment=payment,
        amount=back,
        reason=reason,
        method=payment.method,
        kind=Refund.Kind.CONCESSION,
        adjustment=adjustment,
    )


def payment_refund_of_kind(
    *,
    actor: User | None,
    payment: Payment,
    kind: str,
    amount: Decimal,
    reason: str,
    category: str = "",
) -> Refund:
    """The refund of `kind` that the desk or the API chose: a plain refund, an overpayment
    refund or a concession refund (`category` names the concession)."""
    if kind == Refund.Kind.CONCESSION:
        return payment_refund_concession(
            actor=actor, payment=payment, category=category, amount=amount, reason=reason
        )
    if kind == Refund.Kind.OVERPAYMENT:
        return payment_refund_overpayment(
            actor=actor, payment=payment, amount=amount, reason=reason
        )
    return payment_refund(actor=actor, payment=payment, amount=amount, reason=reason)


def _invoice_for(actor: User | None, appointment: Appointment) -> Invoice:
    """The appointment's invoice, locked, issued now if it was still a draft."""
    appointment = _locked_appointment(appointment)
    require_branch(actor, appointment.branch_id, "Appointment not found.")
    if appointment.status not in PAYABLE:
        raise Conflict(
            gettext_noop("A %(status)s appointment has no bill to change."),
            params={"status": appointment.status_label()},
        )
    invoice = Invoice.objects.select_for_update().filter(appointment=appointment).first()
    if invoice is None:
        invoice = _issue_invoice(appointment, actor)
    if invoice.status != Invoice.Status.ISSUED:
        raise Conflict(gettext_noop("Only an issued invoice can be changed."))
    return invoice


def _discounts_of(invoice: Invoice) -> list[tuple[str, Decimal]]:
    return [
        (_discount_label(adjustment.category), adjustment.amount)
        for adjustment in invoice.adjustments.filter(kind=InvoiceAdjustment.Kind.DISCOUNT)
    ]


def _discount_label(category: str) -> str:
    """The discount's line on the bill: stored, so in the one language of the stored data."""
    with translation.override(project.LANGUAGE_CODE):
        return f"{InvoiceAdjustment.Category(category).label} discount"


def discount_category(description: str) -> InvoiceAdjustment.Category | None:
    """The kind of discount a stored discount line names ("Senior citizen discount"), so a
    page can say it in its own language; None for a line this code did not write."""
    for category in InvoiceAdjustment.Category:
        if _discount_label(category) == description:
            return category
    return None


def _apply(
    *,
    actor: User | None,
    invoice: Invoice,
    adjustment: InvoiceAdjustment,
    lines: list[dict[str, str]],
    event_type: str,
) -> InvoiceAdjustment:
    """Saves the adjustment and the invoice's new lines and totals, each with its event."""
    total, tax = totals(lines)
    adjustment.total_reduction = money(invoice.total - total)
    made = timezone.now()
    adjustment.record(
        event_type,
        {
            "invoice_id": invoice.pk,
            "appointment_id": invoice.appointment_id,
            "branch_id": invoice.branch_id,
            "kind": adjustment.kind,
            "category": adjustment.category,
            "percent": str(adjustment.percent) if adjustment.percent is not None else None,
            "amount": str(adjustment.amount),
            "total_reduction": str(adjustment.total_reduction),
            "number": adjustment.number,
            "line": adjustment.line,
            "currency": invoice.currency,
            "date": local_date_of(made, invoice.branch),
        },
        actor=actor,
    )
    adjustment.save()
    invoice.lines, invoice.total, invoice.tax = lines, total, tax
    invoice.record(
        events.INVOICE_ADJUSTED,
        {
            "appointment_id": invoice.appointment_id,
            "branch_id": invoice.branch_id,
            "adjustment_id": adjustment.pk,
            "total": str(total),
            "tax": str(tax),
            "lines": event_lines(lines),
        },
        actor=actor,
    )
    invoice.save()
    documents.credit_decreases(actor=actor, invoice=invoice)
    return adjustment


def discount_limit(
    actor: User | None, lines: list[dict[str, str]]
) -> tuple[Decimal, Decimal] | None:
    """(cap percent, amount) that `actor` may take off a bill with these lines, all discounts
    together; None when the role has no limit (the role policy is apps.clinic.access)."""
    cap = discount_cap_percent(actor, BillingSettings.current().receptionist_discount_cap)
    if cap is None:
        return None
    return cap, money(charges_of(lines) * cap / 100)


def _discount(
    *,
    actor: User | None,
    appointment: Appointment,
    category: str,
    amount: Decimal | None,
    percent: Decimal | None,
    reason: str,
) -> InvoiceAdjustment:
    if category not in dict(DISCOUNT_CATEGORIES):
        choices = ", ".join(dict(DISCOUNT_CATEGORIES))
        raise InvalidInput(f"Kind is one of: {choices}.", field="category")
    require_role(actor, DISCOUNT_ROLES)
    if (amount is None) == (percent is None):
        raise InvalidInput(gettext_noop("Give either an amount or a percent."), field="amount")
    if percent is not None and (
        not isinstance(percent, Decimal)
        or not percent.is_finite()
        or not ZERO < percent <= Decimal("100")
        or percent != percent.quantize(PAISA)
    ):
        raise InvalidInput(
            gettext_noop("A percent is more than 0 and at most 100."), field="percent"
        )
    invoice = _invoice_for(actor, appointment)
    charges = charges_of(invoice.lines)
    discounted = -sum(
        (Decimal(line["amount"]) for line in invoice.lines if line["kind"] == "discount"), ZERO
    )
    billable = money(charges - discounted)
    if amount is not None:
        amount = check_amount(amount)
    else:
        amount = money(billable * (percent or ZERO) / 100)
    if amount <= ZERO:
        raise Conflict(gettext_noop("Nothing is left on this bill to discount."))
    if amount > billable:
        raise Conflict(
            gettext_noop("That is more than is left to bill (%(billable)s before tax)."),
            params={"billable": format_money(billable, invoice.currency)},
        )
    limit_of_actor = discount_limit(actor, invoice.lines)
    if limit_of_actor is not None and discounted + amount > limit_of_actor[1]:
        cap, limit = limit_of_actor
        raise Conflict(
            gettext_noop(
                "A receptionist may take at most %(cap)s%% off a bill: %(limit)s on this one, "
                "of which %(left)s is left. Ask a manager for more."
            ),
            params={
                "cap": f"{cap.normalize():f}",
                "limit": format_money(limit, invoice.currency),
                "left": format_money(max(limit - discounted, ZERO), invoice.currency),
            },
        )
    adjustment = InvoiceAdjustment(
        invoice=invoice,
        branch_id=invoice.branch_id,
        kind=InvoiceAdjustment.Kind.DISCOUNT,
        category=category,
        reason=reason,
        percent=percent,
        amount=amount,
    )
    lines = reprice(invoice.lines, [*_discounts_of(invoice), (_discount_label(category), amount)])
    return _apply(
        actor=actor,
        invoice=invoice,
        adjustment=adjustment,
        lines=lines,
        event_type=events.DISCOUNT_GRANTED,
    )


@command
def invoice_discount(
    *,
    actor: User | None,
    appointment: Appointment,
    category: str,
    reason: str,
    amount: Decimal | None = None,
    percent: Decimal | None = None,
) -> InvoiceAdjustment:
    """Takes a discount or concession off the appointment's bill (before tax), by amount or
    percent of what is left to bill. Receptionists are held to the tenant's cap; tax is
    computed again on the discounted amount. Money already paid beyond the new bill can then
    be paid back with an overpayment refund."""
    require_role(actor, FRONT_DESK)
    return _discount(
        actor=actor,
        appointment=appointment,
        category=category,
        amount=amount,
        percent=percent,
        reason=_reason(reason, "discount"),
    )


@command
def invoice_line_withdraw(
    *, actor: User | None, invoice: Invoice, line: int, reason: str
) -> InvoiceAdjustment:
    """Withdraws a charge from an issued invoice: a credit note, numbered in the branch's own
    series, takes the line and its tax off the bill."""
    require_role(actor, FRONT_DESK)
    reason = _reason(reason, "credit note")
    invoice = _invoice_for(actor, invoice.appointment)
    if not 0 <= line < len(invoice.lines):
        raise InvalidInput(gettext_noop("No such line on this invoice."), field="line")
    target = invoice.lines[line]
    if target["kind"] in NOT_CHARGES:
        raise Conflict(gettext_noop("Only a charge can be withdrawn; tax and discounts follow it."))
    if target.get("withdrawn"):
        raise Conflict(
            gettext_noop("This line was already withdrawn by credit note %(number)s."),
            params={"number": target["withdrawn"]},
        )
    if Decimal(target["amount"]) <= ZERO:
        raise Conflict(gettext_noop("This line charges nothing: there is nothing to credit."))
    counter, _ = CreditNoteCounter.objects.get_or_create(branch_id=invoice.branch_id)
    counter = CreditNoteCounter.objects.select_for_update().get(pk=counter.pk)
    counter.last_number += 1
    counter.save()
    number = f"CN{invoice.branch_id}-{counter.last_number:06d}"
    lines = [dict(item) for item in invoice.lines]
    lines[line]["withdrawn"] = number
    adjustment = InvoiceAdjustment(
        invoice=invoice,
        branch_id=invoice.branch_id,
        kind=InvoiceAdjustment.Kind.CREDIT_NOTE,
        category=InvoiceAdjustment.Category.WITHDRAWN,
        reason=reason,
        amount=money(Decimal(target["amount"])),
        number=number,
        sequence=counter.last_number,
        line=line,
    )
    return _apply(
        actor=actor,
        invoice=invoice,
        adjustment=adjustment,
        lines=reprice(lines, _discounts_of(invoice)),
        event_type=events.CREDIT_NOTE_ISSUED,
    )


def settle_cancellation(*, appointment: Appointment, actor: User | None) -> dict[str, str]:
    """Applies the tenant's deposit policy to a cancelled appointment (inside its command)."""
    invoice = Invoice.objects.select_for_update().filter(appointment=appointment).first()
    if invoice is None:
        return {"policy": "none", "amount": "0.00"}
    policy = BillingSettings.current().cancellation_policy
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
        invoice.lines = [
            {
                "kind": "cancellation_fee",
                "description": "Cancellation fee",
                "rate": "",
                "amount": str(money(kept)),
            }
        ]
    else:
        invoice.status = Invoice.Status.VOID
        invoice.lines = []
    invoice.total, invoice.tax = totals(invoice.lines)
    invoice.record(
        events.INVOICE_SETTLED_ON_CANCELLATION,
        {"appointment_id": appointment.pk, "policy": policy, "total": str(invoice.total)},
        actor=actor,
    )
    invoice.save()
    documents.credit_decreases(actor=actor, invoice=invoice)
    return {"policy": policy, "amount": str(money(kept))}


def event_lines(lines: list[dict[str, str]]) -> list[dict[str, str]]:
    """A bill's lines as events carry them: an item's description (a medicine's name, which
    says something of the patient's health) stays in the invoice row."""
    return [
        {key: value for key, value in line.items() if key != "description"}
        if line["kind"] == gst.ITEM
        else line
        for line in lines
    ]


MAX_QUANTITY = 1000


@command
def invoice_item_add(
    *,
    actor: User | None,
    appointment: Appointment,
    category: str,
    description: str,
    quantity: int,
    unit_price: Decimal,
) -> Invoice:
    """Adds a charge to the visit's bill (medicines, a room, a test): `unit_price` is what the
    patient pays for one, tax included (as medicines are sold at MRP)."""
    require_role(actor, FRONT_DESK)
    if category not in gst.CATEGORIES:
        raise InvalidInput(f"Category is one of: {', '.join(gst.CATEGORIES)}.", field="category")
    if not description.strip():
        raise InvalidInput(
            gettext_noop("Describe the item, e.g. Paracetamol 500 mg x 10."), field="description"
        )
    if not isinstance(quantity, int) or not 0 < quantity <= MAX_QUANTITY:
        raise InvalidInput(f"A quantity is from 1 to {MAX_QUANTITY}.", field="quantity")
    unit_price = check_amount(unit_price, field="unit_price")
    amount = money(unit_price * quantity)
    if amount > MAX_AMOUNT:
        raise Conflict(f"One line cannot come to more than {MAX_AMOUNT:,}.")
    invoice = _invoice_for(actor, appointment)
    line = {
        "kind": gst.ITEM,
        "category": category,
        "code": gst.CATEGORIES[category].code,
        "description": description.strip()[:120],
        "quantity": str(quantity),
        "unit_price": str(unit_price),
        "rate": "",
        "amount": str(amount),
    }
    lines = reprice([*invoice.lines, line], _discounts_of(invoice))
    invoice.lines = lines
    invoice.total, invoice.tax = totals(lines)
    invoice.record(
        events.INVOICE_ITEM_ADDED,
        {
            "appointment_id": invoice.appointment_id,
            "branch_id": invoice.branch_id,
            "line": len(lines) - 1 - sum(1 for item in lines if item["kind"] == "discount"),
            "category": category,
            "quantity": str(quantity),
            "unit_price": str(unit_price),
            "amount": str(amount),
            "total": str(invoice.total),
            "tax": str(invoice.tax),
            "lines": event_lines(lines),
        },
        actor=actor,
    )
    invoice.save()
    return invoice


@command
def gst_supplier_set(
    *,
    actor: User | None,
    legal_name: str,
    gstin: str,
    address: str,
    branch: Branch | None = None,
) -> GstSupplier:
    """Sets the GST registration the tenant (or one branch) issues documents under. Documents
    already issued keep the registration they were issued with."""
    require_role(actor, WHOLE_TENANT_ROLES)
    gstin = gstin.strip().upper()
    problem = gst.gstin_problem(gstin)
    if problem:
        raise InvalidInput(problem, field="gstin")
    if not legal_name.strip():
        raise InvalidInput(
            gettext_noop("Give the legal name on the GST registration."), field="legal_name"
        )
    if not address.strip():
        raise InvalidInput(gettext_noop("Give the registered address."), field="address")
    supplier = (
        GstSupplier.objects.select_for_update()
        .filter(branch_id=branch.pk if branch else None)
        .first()
    ) or GstSupplier(branch=branch)
    supplier.legal_name = legal_name.strip()[:120]
    supplier.gstin = gstin
    supplier.address = address.strip()[:250]
    supplier.record(
        events.GST_SUPPLIER_SET,
        {"branch_id": branch.pk if branch else None, "gstin": gstin},
        actor=actor,
    )
    supplier.save()
    return supplier


@command
def gst_rate_add(
    *,
    actor: User | None,
    category: str,
    rate: Decimal,
    effective_from: date,
    taxable_above: Decimal | None = None,
) -> GstRate:
    """A new GST rate for a kind of supply from `effective_from` on. Documents never change,
    so a rate may not start on or before the date of a document already issued."""
    require_role(actor, WHOLE_TENANT_ROLES)
    if category not in gst.CATEGORIES:
        raise InvalidInput(f"Category is one of: {', '.join(gst.CATEGORIES)}.", field="category")
    if not isinstance(rate, Decimal) or rate.normalize() not in gst.SLABS:
        slabs = ", ".join(f"{slab.normalize():f}" for slab in sorted(gst.SLABS))
        raise InvalidInput(f"A GST rate is one of: {slabs} percent.", field="rate")
    if taxable_above is not None and taxable_above != ZERO:
        taxable_above = check_amount(taxable_above, field="taxable_above")
    if effective_from < gst.GST_START:
        raise InvalidInput(gettext_noop("GST began on 1 July 2017."), field="effective_from")
    latest = GstDocument.objects.order_by("-date").values_list("date", flat=True).first()
    if latest is not None and effective_from <= latest:
        raise Conflict(
            f"Documents are issued up to {latest:%d %b %Y} and never change: "
            "a new rate starts on a later date."
        )
    if GstRate.objects.filter(category=category, effective_from=effective_from).exists():
        raise Conflict(gettext_noop("This kind of supply already has a rate from that date."))
    row = GstRate(
        category=category,
        rate=rate,
        taxable_above=taxable_above,
        effective_from=effective_from,
    )
    row.record(
        events.GST_RATE_SET,
        {
            "category": category,
            "rate": str(rate),
            "taxable_above": None if taxable_above is None else str(taxable_above),
            "effective_from": effective_from.isoformat(),
        },
        actor=actor,
    )
    row.save()
    return row


@command
def gst_documents_issue(
    *,
    actor: User | None,
    invoice: Invoice,
    recipient_name: str = "",
    recipient_gstin: str = "",
    place_of_supply: str = "",
) -> list[GstDocument]:
    """Issues the bill's GST documents (a Bill of Supply for exempt charges, a Tax Invoice
    for taxable ones) for its charges that no document holds yet. The recipient is the
    patient unless a name is given; a registered recipient (B2B) gives a GSTIN, and the place
    of supply is then its state unless given."""
    require_role(actor, FRONT_DESK)
    invoice = (
        Invoice.objects.select_for_update()
        .select_related("branch", "appointment__patient")
        .get(pk=invoice.pk)
    )
    require_branch(actor, invoice.branch_id, "Invoice not found.")
    recipient_gstin = recipient_gstin.strip().upper()
    if recipient_gstin:
        problem = gst.gstin_problem(recipient_gstin)
        if problem:
            raise InvalidInput(problem, field="recipient_gstin")
    if place_of_supply and place_of_supply not in gst.STATES:
        raise InvalidInput(
            gettext_noop("Give the place of supply as a state code, e.g. 27."),
            field="place_of_supply",
        )
    name = recipient_name.strip()[:200] or invoice.appointment.patient.name
    return documents.issue(
        actor=actor,
        invoice=invoice,
        recipient_name=name,
        recipient_gstin=recipient_gstin,
        place_of_supply=place_of_supply,
    )
