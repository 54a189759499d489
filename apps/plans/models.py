"""Public schema: the plans the platform sells, the modules they include, each tenant's
subscription and the record of every change of its state.

These rows are the platform's, not a tenant's: they live in the public schema and are edited
by platform operators (the operator admin, `apps.plans.admin`) and the lifecycle commands
(`apps.plans.commands`). A subscription's state changes only through those commands, each of
which appends a `SubscriptionChange` row (append-only, like the event log) and an entry to the
tenant's audit trail.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from django.core.validators import MinValueValidator
from django.db import models

from apps.archive.policy import LEGAL_MINIMUM_MONTHS
from apps.plans.modules import MODULES
from apps.tenants.models import Tenant

LIMITS = ("doctors", "branches", "bookings")


class Module(models.Model):
    """A part of the product a plan may include; `code` is what `modules.GATES` names."""

    code = models.CharField(max_length=32, unique=True, choices=[(m, m) for m in MODULES])
    name = models.CharField(max_length=80)
    # Shown on the "not in your plan" page: what the clinic would gain.
    adds = models.TextField(help_text="What the module adds, in a sentence or two.")
    monthly_price = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0.00"),
        help_text="Per month, for plans priced per module.",
    )  # fmt: skip

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Plan(models.Model):
    class Pricing(models.TextChoices):
        PER_DOCTOR = "per_doctor", "Per active doctor"
        PER_BRANCH = "per_branch", "Per branch, plus booking tiers"
        PER_MODULE = "per_module", "Per module"

    slug = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=80)
    pricing = models.CharField(max_length=16, choices=Pricing.choices)
    unit_price = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0.00"),
        help_text="Per month: per active doctor, per branch, or the base fee of a per-module plan.",
    )  # fmt: skip
    # [{"up_to": 5000 | null, "per_booking": "0.00"}, ...] in ascending order (per-branch plans).
    booking_tiers = models.JSONField(default=list, blank=True)
    modules = models.ManyToManyField(Module, related_name="plans")
    max_doctors = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    max_branches = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    max_bookings = models.PositiveIntegerField(
        null=True, blank=True, help_text="Bookings per calendar month; empty: no limit."
    )
    trial_days = models.PositiveSmallIntegerField(default=30)
    grace_days = models.PositiveSmallIntegerField(
        default=15, help_text="Days a past-due subscription keeps working before suspension."
    )
    log_retention_months = models.PositiveSmallIntegerField(
        default=LEGAL_MINIMUM_MONTHS,
        validators=[MinValueValidator(LEGAL_MINIMUM_MONTHS)],
        help_text="Months of event log and audit trail kept live before they are archived "
        f"(at least {LEGAL_MINIMUM_MONTHS}, the legal minimum for medical records).",
    )
    # The plan a new sign-up of this kind of tenant starts its trial on.
    for_kind = models.CharField(max_length=16, choices=Tenant.Kind.choices, unique=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    def limits(self) -> dict[str, int | None]:
        return {
            "doctors": self.max_doctors,
            "branches": self.max_branches,
            "bookings": self.max_bookings,
        }


class Subscription(models.Model):
    """One per tenant. `due_at` is when the state changes by itself (trial end, grace end);
    beat looks up only the rows whose time has come (`subscription_due` index)."""

    class Status(models.TextChoices):
        TRIAL = "trial", "Trial"
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Past due"
        SUSPENDED = "suspended", "Suspended"
        CLOSED = "closed", "Closed"

    # The lifecycle: which state may follow which (one home; the commands ask it).
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        Status.TRIAL: frozenset({Status.ACTIVE, Status.PAST_DUE, Status.SUSPENDED, Status.CLOSED}),
        Status.ACTIVE: frozenset({Status.PAST_DUE, Status.SUSPENDED, Status.CLOSED}),
        Status.PAST_DUE: frozenset({Status.ACTIVE, Status.SUSPENDED, Status.CLOSED}),
        Status.SUSPENDED: frozenset({Status.ACTIVE, Status.CLOSED}),
        Status.CLOSED: frozenset(),
    }
    # States in which the tenant's people may change nothing (reads and exports go on).
    READ_ONLY: ClassVar[frozenset[str]] = frozenset({Status.SUSPENDED, Status.CLOSED})

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRIAL)
    started_at = models.DateTimeField()
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    grace_ends_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField()
    # The tenant's GSTIN for the platform's invoices (optional).
    gstin = models.CharField(max_length=15, blank=True)

    class Meta:
        ordering = ["tenant__slug"]
        indexes = [
            models.Index(
                fields=["due_at"], condition=models.Q(due_at__isnull=False), name="subscription_due"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant} on {self.plan} ({self.status})"

    def module_codes(self) -> frozenset[str]:
        """What the tenant may use now: every module while on trial (a clinic sees what each
        adds before it pays), the plan's afterwards."""
        if self.status == self.Status.TRIAL:
            return frozenset(MODULES)
        return frozenset(self.plan.modules.values_list("code", flat=True))

    def next_due(self, now: datetime) -> datetime | None:
        del now
        if self.status == self.Status.TRIAL:
            return self.trial_ends_at
        if self.status == self.Status.PAST_DUE:
            return self.grace_ends_at
        return None

    def grace_end(self, now: datetime) -> datetime:
        return now + timedelta(days=self.plan.grace_days)


class SubscriptionChange(models.Model):
    """One row per change of a subscription's plan or state: who (an operator's email, or
        "beat" for a change by date), from what to what, when and why. Never changed (a trigger
    refuses UPDATE); the rows go only with their tenant when it is removed."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    by = models.CharField(max_length=254)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.tenant}: {self.from_status or '-'} → {self.to_status}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("A subscription change is recorded once and never changed.")
        super().save(*args, **kwargs)


class StatementNumber(models.Model):
    """The last statement number of each financial year (April to March): statements are
    numbered 1, 2, 3 … within a year, with no gap (GST invoices must be)."""

    financial_year = models.CharField(max_length=7, primary_key=True)  # "2026-27"
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.financial_year}: {self.last}"


class Statement(models.Model):
    """The platform's monthly tax invoice to one tenant: its plan's charges for the month's
    usage, plus GST. Issued once per tenant and month (`statement_issue`), never changed."""

    # Emptied when the tenant is erased: the invoice itself is kept (tax law), and the tenant's
    # closure record (`apps.lifecycle`) lists its number.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    month = models.DateField(help_text="The first day of the month it charges for.")
    number = models.CharField(max_length=32, unique=True)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    # [{"description", "quantity", "unit_price", "amount"}], money as strings.
    lines = models.JSONField()
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    gst_rate = models.DecimalField(max_digits=5, decimal_places=2)
    gst = models.DecimalField(max_digits=12, decimal_places=2)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    gstin = models.CharField(max_length=15, blank=True, help_text="The tenant's, when given.")
    issued_at = models.DateTimeField()

    class Meta:
        ordering = ["-month", "number"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "month"], name="statement_once_a_month")
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("A statement is issued once and never changed.")
        super().save(*args, **kwargs)
