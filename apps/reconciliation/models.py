"""Day-end declarations, the daily close computed from the event log, and sign-offs."""

from decimal import Decimal

from django.db import models

from apps.clinic.models import Branch
from apps.core.clinictime import format_date
from apps.core.models import SingletonSettings
from apps.eventstore.models import EventSourcedModel

METHODS = ("cash", "card", "upi", "other")


class ReconciliationSettings(SingletonSettings, EventSourcedModel):
    """One row per tenant: how far a declaration may be off and still count as balanced."""

    stream_type = "reconciliation-settings"

    tolerance = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        verbose_name_plural = "reconciliation settings"

    def __str__(self) -> str:
        return f"Tolerance {self.tolerance}"


class Declaration(EventSourcedModel):
    """What reception counted (cash) or a settlement file reported (card, UPI) for a day.

    A later declaration for the same branch, date and method replaces the earlier one; both
    stay in the log.
    """

    stream_type = "declaration"

    class Source(models.TextChoices):
        COUNT = "count", "Counted at reception"
        SETTLEMENT = "settlement", "Settlement file"

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="declarations")
    date = models.DateField()
    method = models.CharField(max_length=8)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.COUNT)
    reference = models.CharField(max_length=80, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["branch_id", "date", "method", "id"]

    def __str__(self) -> str:
        return f"{self.branch_id} {self.date} {self.method} {self.amount}"


class DailyClose(models.Model):
    """A branch's day, as the event log tells it up to `as_of_position`. Recomputed at will
    (idempotent); the sign-off is an event of its own."""

    class Status(models.TextChoices):
        UNDECLARED = "undeclared", "Undeclared"
        BALANCED = "balanced", "Balanced"
        VARIANCE = "variance", "Variance"

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="daily_closes")
    date = models.DateField()
    bookings = models.PositiveIntegerField(default=0)
    cancellations = models.PositiveIntegerField(default=0)
    no_shows = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    expected = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    # {method: "amount"} with two-place decimal strings
    collected = models.JSONField(default=dict)
    refunded = models.JSONField(default=dict)
    declared = models.JSONField(default=dict)
    variance = models.JSONField(default=dict)
    # Card and UPI: what the gateway settled of the day's payments, and what is in transit.
    settled = models.JSONField(default=dict)
    in_transit = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UNDECLARED)
    as_of_position = models.BigIntegerField(default=0)
    computed = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date", "branch_id"]
        constraints = [
            models.UniqueConstraint(fields=["branch", "date"], name="daily_close_branch_date")
        ]

    def __str__(self) -> str:
        return f"{self.branch}, {format_date(self.date)} ({self.get_status_display()})"

    @property
    def net(self) -> Decimal:
        collected = sum((Decimal(v) for v in self.collected.values()), Decimal("0.00"))
        refunded = sum((Decimal(v) for v in self.refunded.values()), Decimal("0.00"))
        return collected - refunded


class SignOff(EventSourcedModel):
    """A manager's sign-off of a day's close, with a note on its variance."""

    stream_type = "sign-off"

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="sign_offs")
    date = models.DateField()
    note = models.CharField(max_length=500, blank=True)
    variance = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "branch_id", "-id"]

    def __str__(self) -> str:
        return f"Sign-off {self.branch_id} {self.date}"


class WarehouseCursor(models.Model):
    """How far this tenant's facts have been exported to the warehouse."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    position = models.BigIntegerField(default=0)
    closes_exported = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"warehouse @ {self.position}"
