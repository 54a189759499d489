"""What a new clinic still has to do before it can book, step by step (a selector)."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext

from apps.billing.models import BillingSettings, TaxRule
from apps.clinic.models import WHOLE_TENANT_ROLES, Branch, Role, User
from apps.scheduling.models import Doctor

# Who may open the set-up screens: the people who run the whole clinic or chain.
SETUP_ROLES = WHOLE_TENANT_ROLES


def can_set_up(user: object) -> bool:
    return getattr(user, "is_authenticated", False) and getattr(user, "role", "") in SETUP_ROLES


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    done: bool
    url: str
    optional: bool = False


@dataclass(frozen=True)
class Checklist:
    branch: Branch
    steps: list[Step]

    @property
    def can_book(self) -> bool:
        """Bookable once the branch has an active doctor with weekly hours."""
        return next(step.done for step in self.steps if step.key == "doctor")

    @property
    def complete(self) -> bool:
        return all(step.done for step in self.steps if not step.optional)


def branch_has_bookable_doctor(branch: Branch) -> bool:
    return Doctor.objects.filter(branch=branch, active=True).exclude(weekly_hours=[]).exists()


def setup_checklist(branch: Branch) -> Checklist:
    steps = [
        Step(
            "branch",
            gettext("Review the branch: name, address and phone (printed on receipts)"),
            bool(branch.address and branch.phone),
            reverse("setup-branch", args=[branch.pk]),
        ),
        Step(
            "doctor",
            gettext("Add a doctor with weekly hours"),
            branch_has_bookable_doctor(branch),
            reverse("setup-doctor-new") + f"?branch={branch.pk}",
        ),
        Step(
            "staff",
            gettext("Invite your front desk"),
            User.objects.exclude(role=Role.OWNER).exists(),
            reverse("setup-staff"),
            optional=True,
        ),
        Step(
            "billing",
            gettext("Billing: taxes, cancellation and no-show fees"),
            BillingSettings.objects.exists() or TaxRule.objects.exists(),
            reverse("setup-billing"),
            optional=True,
        ),
    ]
    return Checklist(branch=branch, steps=steps)
