from django import forms
from django.utils.translation import gettext_lazy as _

from apps.core.timezones import known_timezones
from apps.directory.cells import regions
from apps.tenants.models import Tenant
from apps.tenants.rules import SUPPORTED_CURRENCIES

REGION_NAMES = {
    "in": _("India"),
    "gcc": _("Gulf (GCC)"),
    "sea": _("South-East Asia"),
    "eu": _("Europe"),
}
# The kinds' names in the page's language (the model's choices stay as stored, in English).
KIND_NAMES = {
    Tenant.Kind.CLINIC: _("Clinic"),
    Tenant.Kind.CHAIN: _("Clinic chain"),
    Tenant.Kind.HOSPITAL: _("Hospital OPD"),
}


class SignupForm(forms.Form):
    clinic_name = forms.CharField(label=_("Clinic or hospital name"), max_length=200)
    slug = forms.CharField(
        label=_("Web address"),
        max_length=63,
        help_text=_("Your staff will sign in at this address, e.g. sunrise-clinic."),
    )
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[(kind, KIND_NAMES.get(kind, kind)) for kind in Tenant.Kind]
    )
    owner_name = forms.CharField(label=_("Your name"), max_length=150)
    owner_email = forms.EmailField(label=_("Your email"))
    owner_password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters; not a common password."),
    )
    timezone = forms.ChoiceField(label=_("Time zone"), initial="Asia/Kolkata")
    currency = forms.ChoiceField(
        label=_("Currency"), initial="INR", choices=[(c, c) for c in sorted(SUPPORTED_CURRENCIES)]
    )
    region = forms.ChoiceField(
        label=_("Where your data is kept"),
        initial="in",
        required=False,
        help_text=_("Your clinic's records, backups and messages stay in this region."),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["region"].choices = [  # type: ignore[attr-defined]
            (region, REGION_NAMES.get(region, region)) for region in regions()
        ]
        self.fields["timezone"].choices = [(tz, tz) for tz in sorted(known_timezones())]  # type: ignore[attr-defined]

    def clean_region(self) -> str:
        return str(self.cleaned_data.get("region") or "in")
