import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms

from apps.billing import gst
from apps.billing.models import DISCOUNT_CATEGORIES, Method, Payment, Refund
from apps.core.dates import BoundedDateFormField
from apps.reconciliation.models import METHODS


class PhoneSearchForm(forms.Form):
    phone = forms.CharField(label="Patient's phone", max_length=32)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_search_%s")
        super().__init__(*args, **kwargs)


class RegisterForm(forms.Form):
    name = forms.CharField(label="Full name", max_length=150)
    phone = forms.CharField(label="Phone", max_length=32)
    date_of_birth = BoundedDateFormField(
        label="Date of birth", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The patients page also has the search form: its ids must differ from ours.
        kwargs.setdefault("auto_id", "id_register_%s")
        super().__init__(*args, **kwargs)


class BookForm(forms.Form):
    doctor = forms.TypedChoiceField(label="Doctor", coerce=int)
    date = BoundedDateFormField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))


class CancelForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=200)


def money_input(label: str, **options: Any) -> forms.DecimalField:
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
    kind = forms.ChoiceField(label="Kind", choices=Payment.Kind.choices)
    amount = money_input("Amount to take")
    method = forms.ChoiceField(label="Method", choices=DESK_METHODS)


class RefundForm(forms.Form):
    """One payment row's refund; its prefix names the payment."""

    kind = forms.ChoiceField(
        label="Refund as",
        choices=[
            (Refund.Kind.OVERPAYMENT, "Overpayment (paid beyond the bill)"),
            (Refund.Kind.CONCESSION, "Concession (lowers the bill)"),
            (Refund.Kind.REFUND, "Plain refund (owed again)"),
        ],
    )
    category = forms.ChoiceField(
        label="Concession", choices=[("", "—"), *DISCOUNT_CATEGORIES], required=False
    )
    amount = money_input("Amount")
    reason = forms.CharField(label="Reason", max_length=200)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == Refund.Kind.CONCESSION and not data.get("category"):
            self.add_error("category", "Say which concession this is.")
        return data


class DiscountForm(forms.Form):
    category = forms.ChoiceField(label="Discount or concession", choices=DISCOUNT_CATEGORIES)
    amount = money_input("Amount off (before tax)", required=False)
    percent = forms.DecimalField(
        label="or percent off",
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("100"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    reason = forms.CharField(label="Reason", max_length=200)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "amount" in data and "percent" in data:
            given = [data["amount"] is not None, data["percent"] is not None]
            if all(given):
                self.add_error("amount", "Give either an amount or a percent, not both.")
            elif not any(given):
                self.add_error("amount", "Give an amount or a percent.")
        return data


class WithdrawForm(forms.Form):
    """Withdraws one invoice line (its prefix names the line) with a credit note."""

    reason = forms.CharField(label="Reason", max_length=200)


class DeclarationForm(forms.Form):
    """The day-end count: one amount per method, all in one submit; blank ones are skipped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "count")
        super().__init__(*args, **kwargs)
        for method in METHODS:
            self.fields[method] = forms.DecimalField(
                label=f"{Method(method).label} counted",
                max_digits=12,
                decimal_places=2,
                min_value=0,
                required=False,
                widget=forms.TextInput(attrs={"inputmode": "decimal"}),
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors and all(cleaned.get(m) is None for m in METHODS):
            raise forms.ValidationError("Enter the counted amount of at least one method.")
        return cleaned

    def counted(self) -> list[tuple[str, Any]]:
        return [(m, self.cleaned_data[m]) for m in METHODS if self.cleaned_data.get(m) is not None]


class RescheduleForm(forms.Form):
    date = BoundedDateFormField(label="New date", widget=forms.DateInput(attrs={"type": "date"}))


# The calendar covers any real working date; beyond these years a date is a typo.
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


class CalendarForm(forms.Form):
    date = forms.DateField(
        label="Date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    view = forms.ChoiceField(
        label="Show", required=False, choices=[("day", "Day"), ("week", "Week")]
    )
    doctor = forms.TypedChoiceField(label="Doctor", required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, doctors: Any = (), **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_calendar_%s")
        super().__init__(*args, **kwargs)
        self.fields["doctor"].choices = [("", "All doctors")] + [  # type: ignore[attr-defined]
            (d.pk, d.name) for d in doctors
        ]
        self.fields["date"].widget.attrs.update(min=FIRST_DAY.isoformat(), max=LAST_DAY.isoformat())

    def clean_date(self) -> dt.date | None:
        day: dt.date | None = self.cleaned_data.get("date")
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise forms.ValidationError(f"Choose a date from {FIRST_DAY.year} to {LAST_DAY.year}.")
        return day


class ItemForm(forms.Form):
    """A charge added to the bill: medicines, a room, a test (price per unit, tax included)."""

    category = forms.ChoiceField(
        label="Kind",
        choices=gst.CATEGORY_CHOICES,
        initial="pharmacy",
    )
    description = forms.CharField(label="Description", max_length=120)
    quantity = forms.IntegerField(label="Quantity", min_value=1, max_value=1000, initial=1)
    unit_price = money_input("Price per unit (MRP, tax included)")


class GstIssueForm(forms.Form):
    """Who the GST documents are made out to: the patient unless a name is given."""

    recipient_name = forms.CharField(
        label="Bill to (blank: the patient)", max_length=200, required=False
    )
    recipient_gstin = forms.CharField(
        label="Recipient's GSTIN (B2B)", max_length=15, required=False
    )
    place_of_supply = forms.ChoiceField(
        label="Place of supply",
        choices=[("", "The recipient's GSTIN state, else the clinic's")]
        + [(code, f"{code} {name}") for code, name in gst.STATES.items()],
        required=False,
    )
