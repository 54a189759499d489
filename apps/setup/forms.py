"""The set-up screens' forms: input is parsed and checked here, the commands re-check."""

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import schema_context

from apps.billing.models import BillingSettings
from apps.clinic.commands import BRANCH_BOUND_ROLES
from apps.clinic.models import Branch, Role
from apps.clinic.tasks import send_password_reset
from apps.core.db import connection
from apps.core.timezones import known_timezones
from apps.core.wakeups import guarded
from apps.scheduling.commands import MAX_FEE

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def money_field(label: "StrOrPromise", help_text: "StrOrPromise" = "") -> forms.DecimalField:
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
    name = forms.CharField(
        label=_("Name"), max_length=120, help_text=_("Printed on receipts, e.g. Andheri West.")
    )
    city = forms.CharField(label=_("City"), max_length=120)
    address = forms.CharField(
        label=_("Address"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Printed on receipts."),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=20,
        help_text=_("Printed on receipts, e.g. +91 22 2345 6789."),
    )
    timezone = forms.ChoiceField(label=_("Time zone"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [(tz, tz) for tz in sorted(known_timezones())]  # type: ignore[attr-defined]


class DoctorForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=150,
        help_text=_("As patients know them, e.g. Dr. Asha Rao."),
    )
    specialty = forms.CharField(
        label=_("Specialty"),
        max_length=120,
        help_text=_("e.g. General medicine, Paediatrics."),
    )
    branch = forms.TypedChoiceField(label=_("Branch"), coerce=int)
    consultation_fee = money_field(_("Consultation fee"))
    slot_minutes = forms.IntegerField(
        label=_("Slot length (minutes)"), min_value=5, max_value=240, initial=15
    )
    active = forms.BooleanField(
        label=_("Takes bookings"),
        required=False,
        initial=True,
        help_text=_("Untick to stop new bookings; booked visits stay."),
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["branch"]  # a doctor stays in their branch
        else:
            del self.fields["active"]
            self.fields["branch"].choices = _branch_choices()  # type: ignore[attr-defined]


class InviteForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    email = forms.EmailField(
        label=_("Email"), help_text=_("The invitation goes here; it is also their sign-in.")
    )
    role = forms.ChoiceField(
        label=_("Role"), choices=[(r.value, r.label) for r in Role if r != Role.OWNER]
    )
    branches = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        label=_("Branches"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Where they work (not needed for managers, who see every branch)."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["branches"].choices = _branch_choices()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("role") in BRANCH_BOUND_ROLES and not cleaned.get("branches"):
            self.add_error("branches", gettext("Choose at least one branch for this role."))
        return cleaned


class BillingForm(forms.Form):
    cancellation_policy = forms.ChoiceField(
        label=_("When a visit with a deposit is cancelled"),
        choices=BillingSettings.CancellationPolicy.choices,
        widget=forms.RadioSelect,
    )
    no_show_fee = money_field(
        _("No-show fee"), _("Added to the bill of a repeat no-show; 0 is off.")
    )
    no_show_deposit = money_field(
        _("No-show deposit"),
        _("A repeat no-show pays this at reception before booking; 0 is off."),
    )


class TaxRuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=40, help_text=_("e.g. CGST"))
    rate = forms.DecimalField(
        label=_("Rate (%)"),
        min_value=Decimal("0.01"),
        max_value=Decimal("100"),
        max_digits=5,
        decimal_places=2,
    )
    branch = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label=_("Applies to")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["branch"].choices = [("", gettext("Every branch")), *_branch_choices()]  # type: ignore[attr-defined]


class LeaveForm(forms.Form):
    start_date = forms.DateField(label=_("First day off"), widget=DATE)
    end_date = forms.DateField(label=_("Last day off"), widget=DATE)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start_date"), cleaned.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", gettext("The last day off cannot be before the first."))
        return cleaned


class ClosureForm(forms.Form):
    day = forms.DateField(label=_("Closed on"), widget=DATE)
    reason = forms.CharField(
        label=_("Reason"), max_length=200, required=False, help_text=_("e.g. Diwali")
    )


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
        language = translation.get_language() or settings.LANGUAGE_CODE  # the page's

        def queue() -> None:
            with schema_context(schema):
                send_password_reset.delay(
                    user_id, site, subject_template_name, email_template_name, language
                )

        guarded(queue, what="password reset email")
