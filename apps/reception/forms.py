import datetime as dt
from typing import Any

from django import forms

from apps.billing.models import Method, Payment
from apps.reconciliation.models import METHODS


class PhoneSearchForm(forms.Form):
    phone = forms.CharField(label="Patient's phone", max_length=32)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_search_%s")
        super().__init__(*args, **kwargs)


class RegisterForm(forms.Form):
    name = forms.CharField(label="Full name", max_length=150)
    phone = forms.CharField(label="Phone", max_length=32)
    date_of_birth = forms.DateField(
        label="Date of birth", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The patients page also has the search form: its ids must differ from ours.
        kwargs.setdefault("auto_id", "id_register_%s")
        super().__init__(*args, **kwargs)


class BookForm(forms.Form):
    doctor = forms.TypedChoiceField(label="Doctor", coerce=int)
    date = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))


class CancelForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=200)


class PaymentForm(forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=Payment.Kind.choices)
    amount = forms.DecimalField(
        label="Amount to take", max_digits=12, decimal_places=2, min_value=0
    )
    method = forms.ChoiceField(
        label="Method", choices=[c for c in Method.choices if c[0] != Method.CREDIT]
    )


class RefundForm(forms.Form):
    payment = forms.IntegerField(widget=forms.HiddenInput)
    amount = forms.DecimalField(label="Refund amount", max_digits=12, decimal_places=2, min_value=0)
    reason = forms.CharField(label="Reason", max_length=200)


class DeclarationForm(forms.Form):
    """The day-end count: one amount per method, all in one submit; blank ones are skipped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "count")
        super().__init__(*args, **kwargs)
        for method in METHODS:
            self.fields[method] = forms.DecimalField(
                label=f"{method.upper()} counted", max_digits=12, decimal_places=2, min_value=0,
                required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"}),
            )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors and all(cleaned.get(m) is None for m in METHODS):
            raise forms.ValidationError("Enter the counted amount of at least one method.")
        return cleaned

    def counted(self) -> list[tuple[str, Any]]:
        return [(m, self.cleaned_data[m]) for m in METHODS if self.cleaned_data.get(m) is not None]


class RescheduleForm(forms.Form):
    date = forms.DateField(label="New date", widget=forms.DateInput(attrs={"type": "date"}))


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
