import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.billing import gst
from apps.billing.models import DISCOUNT_CATEGORIES, Method, Payment, Refund
from apps.core.dates import BoundedDateFormField
from apps.reconciliation.models import METHODS

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class PhoneSearchForm(forms.Form):
    phone = forms.CharField(label=_("Patient's phone"), max_length=32)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_search_%s")
        super().__init__(*args, **kwargs)


class RegisterForm(forms.Form):
    name = forms.CharField(label=_("Full name"), max_length=150)
    phone = forms.CharField(label=_("Phone"), max_length=32)
    date_of_birth = BoundedDateFormField(
        label=_("Date of birth"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    # Reminders, confirmations and cancellations go out in this language (apps.notifications).
    language = forms.TypedChoiceField(
        label=_("Messages in"),
        choices=[("en", _("English")), ("hi", _("Hindi"))],
        initial="en",
        required=False,
        empty_value="en",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The patients page also has the search form: its ids must differ from ours.
        kwargs.setdefault("auto_id", "id_register_%s")
        super().__init__(*args, **kwargs)


class BookForm(forms.Form):
    doctor = forms.TypedChoiceField(label=_("Doctor"), coerce=int)
    date = BoundedDateFormField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


def money_input(label: "StrOrPromise", **options: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        **options,
    )


# Money methods the desk takes, spelled as the model labels them everywhere.
DESK_METHODS = [choice for choice in Method.choices if choice[0] != Method.CREDIT]


class PaymentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Payment.Kind.choices)
    amount = money_input(_("Amount to take"))
    method = forms.ChoiceField(label=_("Method"), choices=DESK_METHODS)


class RefundForm(forms.Form):
    """One payment row's refund; its prefix names the payment."""

    kind = forms.ChoiceField(
        label=_("Refund as"),
        choices=[
            (Refund.Kind.OVERPAYMENT, _("Overpayment (paid beyond the bill)")),
            (Refund.Kind.CONCESSION, _("Concession (lowers the bill)")),
            (Refund.Kind.REFUND, _("Plain refund (owed again)")),
        ],
    )
    category = forms.ChoiceField(
        label=_("Concession"), choices=[("", "—"), *DISCOUNT_CATEGORIES], required=False
    )
    amount = money_input(_("Amount"))
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == Refund.Kind.CONCESSION and not data.get("category"):
            self.add_error("category", _("Say which concession this is."))
        return data


class DiscountForm(forms.Form):
    category = forms.ChoiceField(label=_("Discount or concession"), choices=DISCOUNT_CATEGORIES)
    amount = money_input(_("Amount off (before tax)"), required=False)
    percent = forms.DecimalField(
        label=_("or percent off"),
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("100"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "amount" in data and "percent" in data:
            given = [data["amount"] is not None, data["percent"] is not None]
            if all(given):
                self.add_error("amount", _("Give either an amount or a percent, not both."))
            elif not any(given):
                self.add_error("amount", _("Give an amount or a percent."))
        return data


class WithdrawForm(forms.Form):
    """Withdraws one invoice line (its prefix names the line) with a credit note."""

    reason = forms.CharField(label=_("Reason"), max_length=200)


class DeclarationForm(forms.Form):
    """The day-end count: one amount per method, all in one submit; blank ones are skipped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "count")
        super().__init__(*args, **kwargs)
        for method in METHODS:
            self.fields[method] = forms.DecimalField(
                label=gettext("%(method)s counted") % {"method": Method(method).label},
                max_digits=12,
                decimal_places=2,
                min_value=0,
                required=False,
                widget=forms.TextInput(attrs={"inputmode": "decimal"}),
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors and all(cleaned.get(m) is None for m in METHODS):
            raise forms.ValidationError(_("Enter the counted amount of at least one method."))
        return cleaned

    def counted(self) -> list[tuple[str, Any]]:
        return [(m, self.cleaned_data[m]) for m in METHODS if self.cleaned_data.get(m) is not None]


class RescheduleForm(forms.Form):
    date = BoundedDateFormField(label=_("New date"), widget=forms.DateInput(attrs={"type": "date"}))


# The calendar covers any real working date; beyond these years a date is a typo.
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


class CalendarForm(forms.Form):
    date = forms.DateField(
        label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    view = forms.ChoiceField(
        label=_("Show"), required=False, choices=[("day", _("Day")), ("week", _("Week"))]
    )
    doctor = forms.TypedChoiceField(label=_("Doctor"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, doctors: Any = (), **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_calendar_%s")
        super().__init__(*args, **kwargs)
        self.fields["doctor"].choices = [("", gettext("All doctors"))] + [  # type: ignore[attr-defined]
            (d.pk, d.name) for d in doctors
        ]
        self.fields["date"].widget.attrs.update(min=FIRST_DAY.isoformat(), max=LAST_DAY.isoformat())

    def clean_date(self) -> dt.date | None:
        day: dt.date | None = self.cleaned_data.get("date")
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise forms.ValidationError(
                gettext("Choose a date from %(first)s to %(last)s.")
                % {"first": FIRST_DAY.year, "last": LAST_DAY.year}
            )
        return day


class ItemForm(forms.Form):
    """A charge added to the bill: medicines, a room, a test (price per unit, tax included)."""

    category = forms.ChoiceField(
        label=_("Kind"),
        choices=[(key, _(category.label)) for key, category in gst.CATEGORIES.items()],
        initial="pharmacy",
    )
    description = forms.CharField(label=_("Description"), max_length=120)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=1000, initial=1)
    unit_price = money_input(_("Price per unit (MRP, tax included)"))


class GstIssueForm(forms.Form):
    """Who the GST documents are made out to: the patient unless a name is given."""

    recipient_name = forms.CharField(
        label=_("Bill to (blank: the patient)"), max_length=200, required=False
    )
    recipient_gstin = forms.CharField(
        label=_("Recipient's GSTIN (B2B)"), max_length=15, required=False
    )
    place_of_supply = forms.ChoiceField(
        label=_("Place of supply"),
        choices=[("", _("The recipient's GSTIN state, else the clinic's"))]
        + [(code, format_lazy("{} {}", code, _(name))) for code, name in gst.STATES.items()],
        required=False,
    )
