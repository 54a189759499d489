"""The ledger: invoices per appointment, payments (deposit or balance) and refunds.

Every row is event-sourced; amounts are `Decimal` with two places; what is still due is
always computed from the rows, never stored.
"""

from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from apps.billing import events
from apps.clinic.models import Branch
from apps.core.models import SingletonSettings
from apps.eventstore.models import EventSourcedModel
from apps.scheduling.models import Appointment, Patient


def money_field(**options: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=2, **options)


class Method(models.TextChoices):
    CASH = "cash", _("Cash")
    CARD = "card", _("Card")
    UPI = "upi", "UPI"
    OTHER = "other", _("Other")
    # Not money: a patient's credit, from a deposit kept when an appointment was cancelled.
    CREDIT = "credit", _("Patient credit")


class BillingSettings(SingletonSettings, EventSourcedModel):
    """One row per tenant: what happens to a deposit when its appointment is cancelled."""

    stream_type = "billing-settings"

    class CancellationPolicy(models.TextChoices):
        REFUND = "refund", _("Refund the deposit")
        CREDIT = "credit", _("Keep it as the patient's credit")
        FEE = "fee", _("Keep it as a cancellation fee")

    cancellation_policy = models.CharField(
        max_length=8, choices=CancellationPolicy.choices, default=CancellationPolicy.REFUND
    )
    # For bookings of repeat no-shows (scheduling's NoShowPolicy); 0.00 turns each off.
    no_show_fee = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text="Added as a line to the invoice of a repeat no-show's booking; 0 is off.",
    )
    no_show_deposit = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text="Deposit a repeat no-show pays at reception before a visit is booked online "
        "(the patient app refuses the booking); 0 is off.",
    )

    # The largest share of a bill (percent of its charges, all discounts together) that a
    # receptionist may give; apps.clinic.access.discount_cap_percent decides who it binds.
    receptionist_discount_cap = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("20.00"),
        help_text="Percent of a bill's charges a receptionist may discount in all; managers "
        "and owners are not limited.",
    )

    class Meta:
        verbose_name_plural = "billing settings"

    def __str__(self) -> str:
        return f"Billing settings ({self.get_cancellation_policy_display()})"


class TaxRule(EventSourcedModel):
    """A GST-style tax on consultation fees, for the whole tenant or for one branch.

    Consultations are GST-exempt by default: a tenant that charges tax adds rules, e.g.
    CGST 9% and SGST 9%. A branch with rules of its own uses only those.
    """

    stream_type = "tax-rule"

    name = models.CharField(max_length=40)
    rate = models.DecimalField(max_digits=5, decimal_places=2)  # percent
    branch = models.ForeignKey(
        Branch, null=True, blank=True, on_delete=models.PROTECT, related_name="tax_rules"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["branch_id", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gt=0, rate__lte=100), name="tax_rate_in_range")
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.rate}%"


class InvoiceCounter(models.Model):
    """The last invoice number of a branch; locked while a number is taken, so numbers are
    gap-free and in order."""

    branch = models.OneToOneField(Branch, primary_key=True, on_delete=models.PROTECT)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.branch}: {self.last_number}"


class Invoice(EventSourcedModel):
    stream_type = "invoice"

    class Status(models.TextChoices):
        ISSUED = "issued", "Issued"
        VOID = "void", "Void (appointment cancelled)"
        CANCELLATION_FEE = "cancellation_fee", "Cancellation fee"

    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, related_name="invoice"
    )
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=32, unique=True)
    sequence = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ISSUED)
    # [{"kind": fee|tax|cancellation_fee, "description", "rate", "amount"}]; amounts as strings
    lines = models.JSONField(default=list)
    total = money_field()
    tax = money_field()
    issued = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["branch_id", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["branch", "sequence"], name="invoice_branch_sequence")
        ]

    def __str__(self) -> str:
        return self.number


class Payment(EventSourcedModel):
    stream_type = "payment"

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", _("Deposit")
        BALANCE = "balance", _("Balance")

    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="payments")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    method = models.CharField(max_length=8, choices=Method.choices)
    amount = money_field()
    received = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_positive")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.get_method_display()}"


class Refund(EventSourcedModel):
    """Money paid back. A plain refund leaves the bill as it was (so it is owed again); an
    overpayment refund pays back only what was paid beyond the bill; a concession refund
    pays back what a concession took off the bill. Each kind has its own event type."""

    stream_type = "refund"

    class Kind(models.TextChoices):
        REFUND = "refund", _("Refund")
        OVERPAYMENT = "overpayment", _("Overpayment refund")
        CONCESSION = "concession", _("Concession refund")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="refunds")
    amount = money_field()
    # Cash back through the payment's own method, or kept as the patient's credit.
    method = models.CharField(max_length=8, choices=Method.choices)
    reason = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.REFUND)
    adjustment = models.ForeignKey(
        "InvoiceAdjustment", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    refunded = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["refunded", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_positive")]

    def __str__(self) -> str:
        return f"Refund {self.amount} of payment {self.payment_id}"


# The event type of each kind of refund (readers of money moved back ask for all of them:
# `apps.billing.events.REFUND_EVENT_TYPES`).
REFUND_EVENTS = {
    Refund.Kind.REFUND: events.REFUND_ISSUED,
    Refund.Kind.OVERPAYMENT: events.OVERPAYMENT_REFUNDED,
    Refund.Kind.CONCESSION: events.CONCESSION_REFUNDED,
}


class CreditNoteCounter(models.Model):
    """The last credit note number of a branch (a series of its own, gap-free like invoices)."""

    branch = models.OneToOneField(Branch, primary_key=True, on_delete=models.PROTECT)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.branch}: {self.last_number}"


class InvoiceAdjustment(EventSourcedModel):
    """Something taken off an issued invoice: a discount (concession) or a credit note for a
    withdrawn service. `amount` is what it takes off the charges before tax, `total_reduction`
    what it took off the invoice's total (tax included). Never changed once made."""

    stream_type = "invoice-adjustment"

    class Kind(models.TextChoices):
        DISCOUNT = "discount", _("Discount")
        CREDIT_NOTE = "credit_note", _("Credit note")

    class Category(models.TextChoices):
        SENIOR_CITIZEN = "senior_citizen", _("Senior citizen")
        STAFF = "staff", _("Staff")
        HARDSHIP = "hardship", _("Hardship")
        OTHER = "other", _("Other")
        WITHDRAWN = "withdrawn", _("Service withdrawn")

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="adjustments")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="adjustments")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    category = models.CharField(max_length=16, choices=Category.choices)
    # Free text that may describe the patient: it stays in this row, never in an event.
    reason = models.CharField(max_length=200)
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    amount = money_field()
    total_reduction = money_field()
    # Credit notes only: their own number and the index of the withdrawn invoice line.
    number = models.CharField(max_length=32, blank=True)
    sequence = models.PositiveIntegerField(null=True, blank=True)
    line = models.PositiveIntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["invoice_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="adjustment_positive"),
            models.UniqueConstraint(
                fields=["branch", "sequence"],
                condition=Q(kind="credit_note"),
                name="credit_note_branch_sequence",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"{self.get_category_display()} discount {self.amount}"


# The kinds of discount or concession staff may give (a withdrawn service is a credit note).
DISCOUNT_CATEGORIES = [
    choice
    for choice in InvoiceAdjustment.Category.choices
    if choice[0] != InvoiceAdjustment.Category.WITHDRAWN
]


# Read model (built by apps.billing.projections).


class BranchTakings(models.Model):
    """Money received on a branch's local date, net of refunds, by method."""

    branch_id = models.BigIntegerField()
    date = models.DateField()
    method = models.CharField(max_length=8)
    amount = money_field(default=Decimal("0.00"))

    class Meta:
        ordering = ["branch_id", "date", "method"]
        constraints = [
            models.UniqueConstraint(fields=["branch_id", "date", "method"], name="takings_key")
        ]

    def __str__(self) -> str:
        return f"{self.branch_id} {self.date} {self.method}: {self.amount}"


# GST documents (apps.billing.gst has the rules, apps.billing.documents builds them).


class GstSupplier(EventSourcedModel):
    """Who supplies under GST: the tenant's registration, or a branch's own (a branch in
    another state has a GSTIN of its own). A branch without a row uses the tenant's."""

    stream_type = "gst-supplier"

    branch = models.OneToOneField(
        Branch, null=True, blank=True, on_delete=models.PROTECT, related_name="gst_supplier"
    )
    legal_name = models.CharField(max_length=120)
    gstin = models.CharField("GSTIN", max_length=15)
    address = models.CharField(max_length=250)

    class Meta:
        ordering = ["branch_id"]
        constraints = [
            # One tenant-wide row (no branch) at most.
            models.UniqueConstraint(Coalesce("branch", Value(0)), name="gst_supplier_branch")
        ]

    def __str__(self) -> str:
        return f"{self.legal_name} ({self.gstin})"

    @property
    def state(self) -> str:
        return self.gstin[:2]


class GstRate(EventSourcedModel):
    """A tenant's own GST rate for a kind of supply from a date on (on top of the defaults in
    apps.billing.gst). Never changed: a new rate is a new row with a later date."""

    stream_type = "gst-rate"

    category = models.CharField(max_length=16)
    rate = models.DecimalField(max_digits=5, decimal_places=2)
    taxable_above = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Taxed only when the price per unit (per day for a room) is above this.",
    )
    effective_from = models.DateField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["category", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["category", "effective_from"], name="gst_rate_category_date"
            )
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.rate}% from {self.effective_from}"


class GstDocumentCounter(models.Model):
    """The last number of a series in a financial year for one GSTIN; locked while a number
    is taken, so numbers are consecutive and never repeat."""

    gstin = models.CharField(max_length=15)
    series = models.CharField(max_length=3)
    financial_year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["gstin", "series", "financial_year"], name="gst_counter_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.gstin} {self.series} {self.financial_year}: {self.last_number}"


class GstDocument(EventSourcedModel):
    """A bill of supply, tax invoice or credit note under GST, frozen when issued: its
    supplier, recipient, rates and figures never change (a correction is a credit note)."""

    stream_type = "gst-document"

    class Kind(models.TextChoices):
        BILL_OF_SUPPLY = "bill_of_supply", "Bill of Supply"
        TAX_INVOICE = "tax_invoice", "Tax Invoice"
        CREDIT_NOTE = "credit_note", "Credit Note"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="gst_documents")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="gst_documents")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    series = models.CharField(max_length=3)
    financial_year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    number = models.CharField(max_length=16)
    date = models.DateField()
    supplier_legal_name = models.CharField(max_length=120)
    supplier_gstin = models.CharField(max_length=15)
    supplier_address = models.CharField(max_length=250)
    supplier_state = models.CharField(max_length=2)
    place_of_supply = models.CharField(max_length=2)
    # The recipient's name may be a patient's: it stays in this row, never in an event.
    recipient_name = models.CharField(max_length=200)
    recipient_gstin = models.CharField(max_length=15, blank=True)
    original = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    # [{"line", "description", "code", "quantity", "unit_price", "rate", "taxable", "cgst",
    #   "sgst", "igst", "total"}]; `line` is the bill line's index; amounts as strings.
    lines = models.JSONField(default=list)
    taxable = money_field()
    cgst = money_field()
    sgst = money_field()
    igst = money_field()
    total = money_field()
    currency = models.CharField(max_length=3)
    issued = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "series", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["supplier_gstin", "series", "financial_year", "sequence"],
                name="gst_document_number",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"

    @property
    def inter_state(self) -> bool:
        return self.place_of_supply != self.supplier_state
