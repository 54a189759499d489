from django import forms

from apps.billing.models import Method, Payment
from apps.reconciliation.models import METHODS


class PhoneSearchForm(forms.Form):
    phone = forms.CharField(label="Patient's phone", max_length=32)


class RegisterForm(forms.Form):
    name = forms.CharField(label="Full name", max_length=150)
    phone = forms.CharField(label="Phone", max_length=32)
    date_of_birth = forms.DateField(
        label="Date of birth", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


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
    method = forms.ChoiceField(label="Method", choices=[(m, Method(m).label) for m in METHODS])
    amount = forms.DecimalField(
        label="Counted amount", max_digits=12, decimal_places=2, min_value=0
    )


class RescheduleForm(forms.Form):
    date = forms.DateField(label="New date", widget=forms.DateInput(attrs={"type": "date"}))
