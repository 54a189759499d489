"""The set-up screens' forms: input is parsed and checked here, the commands re-check."""

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django_tenants.utils import schema_context

from apps.billing.models import BillingSettings
from apps.clinic.commands import BRANCH_BOUND_ROLES
from apps.clinic.models import Branch, Role
from apps.clinic.tasks import send_password_reset
from apps.core.db import connection
from apps.core.timezones import known_timezones
from apps.core.wakeups import guarded
from apps.scheduling.commands import MAX_FEE

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def money_field(label: str, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        help_text=help_text,
        min_value=Decimal("0"),
        max_value=MAX_FEE - Decimal("0.01"),
        max_digits=9,
        decimal_places=2,
    )


def _branch_choices() -> list[tuple[int, str]]:
    return [(branch.pk, branch.name) for branch in Branch.objects.order_by("name")]


class BranchForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="Printed on receipts, e.g. Andheri West.")
    city = forms.CharField(max_length=120)
    address = forms.CharField(
        max_length=300, widget=forms.Textarea(attrs={"rows": 2}), help_text="Printed on receipts."
    )
    phone = forms.CharField(max_length=20, help_text="Printed on receipts, e.g. +91 22 2345 6789.")
    timezone = forms.ChoiceField(label="Time zone")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [(tz, tz) for tz in sorted(known_timezones())]  # type: ignore[attr-defined]


class DoctorForm(forms.Form):
    name = forms.CharField(max_length=150, help_text="As patients know them, e.g. Dr. Asha Rao.")
    specialty = forms.CharField(max_length=120, help_text="e.g. General medicine, Paediatrics.")
    branch = forms.TypedChoiceField(coerce=int)
    consultation_fee = money_field("Consultation fee")
    slot_minutes = forms.IntegerField(
        label="Slot length (minutes)", min_value=5, max_value=240, initial=15
    )
    active = forms.BooleanField(
        label="Takes bookings",
        required=False,
        initial=True,
        help_text="Untick to stop new bookings; booked visits stay.",
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["branch"]  # a doctor stays in their branch
        else:
            del self.fields["active"]
            self.fields["branch"].choices = _branch_choices()  # type: ignore[attr-defined]


class InviteForm(forms.Form):
    name = forms.CharField(max_length=150)
    email = forms.EmailField(help_text="The invitation goes here; it is also their sign-in.")
    role = forms.ChoiceField(choices=[(r.value, r.label) for r in Role if r != Role.OWNER])
    branches = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Where they work (not needed for managers, who see every branch).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["branches"].choices = _branch_choices()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("role") in BRANCH_BOUND_ROLES and not cleaned.get("branches"):
            self.add_error("branches", "Choose at least one branch for this role.")
        return cleaned


class BillingForm(forms.Form):
    cancellation_policy = forms.ChoiceField(
        label="When a visit with a deposit is cancelled",
        choices=BillingSettings.CancellationPolicy.choices,
        widget=forms.RadioSelect,
    )
    no_show_fee = money_field("No-show fee", "Added to the bill of a repeat no-show; 0 is off.")
    no_show_deposit = money_field(
        "No-show deposit", "A repeat no-show pays this at reception before booking; 0 is off."
    )


class TaxRuleForm(forms.Form):
    name = forms.CharField(max_length=40, help_text="e.g. CGST")
    rate = forms.DecimalField(
        label="Rate (%)",
        min_value=Decimal("0.01"),
        max_value=Decimal("100"),
        max_digits=5,
        decimal_places=2,
    )
    branch = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Applies to"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["branch"].choices = [("", "Every branch"), *_branch_choices()]  # type: ignore[attr-defined]


class LeaveForm(forms.Form):
    start_date = forms.DateField(label="First day off", widget=DATE)
    end_date = forms.DateField(label="Last day off", widget=DATE)
    reason = forms.CharField(max_length=200, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start_date"), cleaned.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", "The last day off cannot be before the first.")
        return cleaned


class ClosureForm(forms.Form):
    day = forms.DateField(label="Closed on", widget=DATE)
    reason = forms.CharField(max_length=200, required=False, help_text="e.g. Diwali")


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's reset request, but the email leaves from a task (`send_password_reset`): the
    page never waits for the mail server, and never fails for it or for the broker."""

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        site = {key: str(context[key]) for key in ("domain", "site_name", "protocol")}
        schema, user_id = connection.schema_name, context["user"].pk

        def queue() -> None:
            with schema_context(schema):
                send_password_reset.delay(user_id, site, subject_template_name, email_template_name)

        guarded(queue, what="password reset email")
