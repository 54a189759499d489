"""Gateway and bank settlements, UPI at the desk, and the exception queue.

Every row is event-sourced (a save appends its event). What a settlement adds up to is
derived from its rows every time, never kept as a hand-edited number. Rows hold gateway
references, amounts and dates only: no patient data.
"""

from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.billing.models import Payment
from apps.clinic.models import Branch, User
from apps.core.models import SingletonSettings
from apps.eventstore.models import EventSourcedModel
from apps.settlements import details


def money_field(**options: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=2, **options)


class SettlementSettings(SingletonSettings, EventSourcedModel):
    """One row per tenant: when a desk payment counts as never settled, and the gateway's
    webhook secret, sealed under the tenant's key (`apps.settlements.secrets`)."""

    stream_type = "settlement-settings"

    unsettled_after_days = models.PositiveSmallIntegerField(
        default=3,
        help_text="A card or UPI payment not in any gateway file after this many days is an "
        "exception.",
    )
    webhook_secret = models.BinaryField(null=True, blank=True, editable=False)
    webhook_key_version = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        verbose_name_plural = "settlement settings"

    def __str__(self) -> str:
        return "Settlement settings"

    def event_branch_id(self) -> int | None:
        return None


class BranchUpi(EventSourcedModel):
    """The UPI address (VPA) a branch is paid at, and the payee name the patient's app shows."""

    stream_type = "branch-upi"

    branch = models.OneToOneField(Branch, on_delete=models.PROTECT, related_name="upi")
    vpa = models.CharField("UPI ID (VPA)", max_length=100)
    payee = models.CharField(max_length=60)

    class Meta:
        verbose_name = "branch UPI ID"

    def __str__(self) -> str:
        return f"{self.branch}: {self.vpa}"


class ImportedFile(EventSourcedModel):
    """A gateway settlement report or a bank statement, as uploaded (its digest, not its
    bytes: the rows are kept one by one)."""

    stream_type = "settlement-file"

    class Kind(models.TextChoices):
        GATEWAY = "gateway", "Gateway settlement report"
        BANK = "bank", "Bank statement"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    source = models.CharField(max_length=20)  # "razorpay", "bank-csv"
    name = models.CharField(max_length=200, blank=True)
    sha256 = models.CharField(max_length=64)
    rows = models.PositiveIntegerField(default=0)
    new_rows = models.PositiveIntegerField(default=0)
    imported_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "sha256"], name="imported_file_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name or self.sha256[:12]}"

    def event_branch_id(self) -> int | None:
        return None


class BankLine(EventSourcedModel):
    """One line of a bank statement. A credit carrying a settlement's UTR, for the
    settlement's exact net, banks that settlement."""

    stream_type = "bank-line"

    file = models.ForeignKey(ImportedFile, on_delete=models.PROTECT, related_name="bank_lines")
    date = models.DateField()
    narration = models.CharField(max_length=200, blank=True)
    reference = models.CharField(max_length=80, blank=True)
    credit = money_field(default=Decimal("0.00"))
    debit = money_field(default=Decimal("0.00"))
    balance = money_field(null=True, blank=True)
    # date|reference|credit|debit|balance: the same line in two statements is one line.
    line_key = models.CharField(max_length=200, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "id"]

    def __str__(self) -> str:
        return f"{self.date} {self.reference or self.narration[:30]} {self.credit}"

    def event_branch_id(self) -> int | None:
        return None


class Settlement(EventSourcedModel):
    """A gateway's payout: its rows, with the UTR of the bank transfer that carried them."""

    stream_type = "settlement"

    gateway = models.CharField(max_length=20, default="razorpay")
    settlement_id = models.CharField(max_length=60, unique=True)
    utr = models.CharField(max_length=80, blank=True)
    settled_on = models.DateField(null=True, blank=True)
    bank_line = models.OneToOneField(
        BankLine, null=True, blank=True, on_delete=models.PROTECT, related_name="settlement"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-settled_on", "-id"]

    def __str__(self) -> str:
        return self.settlement_id

    def event_branch_id(self) -> int | None:
        return None


class GatewayPayment(EventSourcedModel):
    """Our payment as the gateway knows it: its payment id, order id and our reference."""

    stream_type = "gateway-payment"

    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="gateway")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    gateway = models.CharField(max_length=20, default="razorpay")
    gateway_payment_id = models.CharField(max_length=60, unique=True)
    order_id = models.CharField(max_length=60, blank=True)
    reference = models.CharField(max_length=60, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["order_id"], name="gateway_payment_order"),
            models.Index(fields=["reference"], name="gateway_payment_reference"),
        ]

    def __str__(self) -> str:
        return self.gateway_payment_id


class GatewayRow(EventSourcedModel):
    """One row of a gateway settlement report, and what it was matched to."""

    stream_type = "gateway-row"

    class Type(models.TextChoices):
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment"

    class Status(models.TextChoices):
        MATCHED = "matched", "Matched"
        UNMATCHED = "unmatched", "Unmatched"
        DUPLICATE = "duplicate", "Duplicate"

    file = models.ForeignKey(ImportedFile, on_delete=models.PROTECT, related_name="gateway_rows")
    settlement = models.ForeignKey(
        Settlement, null=True, blank=True, on_delete=models.PROTECT, related_name="rows"
    )
    type = models.CharField(max_length=12, choices=Type.choices)
    entity_id = models.CharField(max_length=60)
    payment_ref = models.CharField(max_length=60, blank=True)  # a refund's payment id
    order_id = models.CharField(max_length=60, blank=True)
    order_receipt = models.CharField(max_length=60, blank=True)
    method = models.CharField(max_length=20, blank=True)
    currency = models.CharField(max_length=3, default="INR")
    amount = money_field(default=Decimal("0.00"))
    fee = money_field(default=Decimal("0.00"))  # the gateway's fee, GST included
    tax = money_field(default=Decimal("0.00"))  # the GST on the fee
    debit = money_field(default=Decimal("0.00"))
    credit = money_field(default=Decimal("0.00"))
    gateway_created = models.DateTimeField(null=True, blank=True)
    settled_on = models.DateField(null=True, blank=True)
    # "<row type>:<entity id>"; one non-duplicate row per gateway entity (the constraint).
    row_key = models.CharField(max_length=80)
    digest = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="gateway_rows"
    )
    branch = models.ForeignKey(
        Branch, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["row_key"], condition=~Q(status="duplicate"), name="gateway_row_once"
            )
        ]
        indexes = [models.Index(fields=["row_key"], name="gateway_row_key")]

    def __str__(self) -> str:
        return f"{self.type} {self.entity_id}"

    @property
    def fee_before_tax(self) -> Decimal:
        return self.fee - self.tax


class WebhookDelivery(EventSourcedModel):
    """A signed webhook the gateway sent, kept by its event id so a replay does nothing."""

    stream_type = "payment-webhook"

    class Outcome(models.TextChoices):
        RECORDED = "recorded", "Payment recorded"
        ALREADY = "already", "Payment already recorded"
        REFUSED = "refused", "Not recorded (see the exception queue)"
        IGNORED = "ignored", "Ignored (an event we do not act on)"

    gateway = models.CharField(max_length=20, default="razorpay")
    event_id = models.CharField(max_length=80, unique=True)
    event_type = models.CharField(max_length=60)
    gateway_payment_id = models.CharField(max_length=60, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    branch = models.ForeignKey(
        Branch, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    received = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class ExceptionItem(EventSourcedModel):
    """Something a person has to look at: raised once per `key`, resolved with a note."""

    stream_type = "settlement-exception"

    class Kind(models.TextChoices):
        UNMATCHED_ROW = "unmatched_row", _("Gateway row matches no payment")
        UNSETTLED_PAYMENT = "unsettled_payment", _("Payment never settled")
        SHORT_SETTLEMENT = "short_settlement", _("Short settlement")
        DUPLICATE_ROW = "duplicate_row", _("Duplicate gateway row")
        UNBANKED_LINE = "unbanked_line", _("Bank credit with no settlement")
        BANK_MISMATCH = "bank_mismatch", _("Bank credit differs from the settlement")
        WEBHOOK_REFUSED = "webhook_refused", _("Gateway payment not recorded")

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=120, unique=True)
    branch = models.ForeignKey(
        Branch, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reference = models.CharField(max_length=80, blank=True)  # a gateway id or a UTR
    amount = money_field(null=True, blank=True)
    detail = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # Free text a manager writes: it stays in this row, never in an event.
    note = models.CharField(max_length=500, blank=True)
    resolved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    raised = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["status", "-raised", "-id"]
        indexes = [models.Index(fields=["status", "kind"], name="settlement_exception_open")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"

    @property
    def shown_detail(self) -> str:
        """The detail in the page's language (stored in English: `apps.settlements.details`)."""
        return details.shown(self.detail)
