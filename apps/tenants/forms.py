from django import forms

from apps.core.timezones import known_timezones
from apps.directory.cells import regions
from apps.tenants.models import Tenant
from apps.tenants.rules import SUPPORTED_CURRENCIES

REGION_NAMES = {"in": "India", "gcc": "Gulf (GCC)", "sea": "South-East Asia", "eu": "Europe"}


class SignupForm(forms.Form):
    clinic_name = forms.CharField(label="Clinic or hospital name", max_length=200)
    slug = forms.CharField(
        label="Web address",
        max_length=63,
        help_text="Your staff will sign in at this address, e.g. sunrise-clinic.",
    )
    kind = forms.ChoiceField(label="Kind", choices=Tenant.Kind.choices)
    owner_name = forms.CharField(label="Your name", max_length=150)
    owner_email = forms.EmailField(label="Your email")
    owner_password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters; not a common password.",
    )
    timezone = forms.ChoiceField(label="Time zone", initial="Asia/Kolkata")
    currency = forms.ChoiceField(
        label="Currency", initial="INR", choices=[(c, c) for c in sorted(SUPPORTED_CURRENCIES)]
    )
    region = forms.ChoiceField(
        label="Where your data is kept",
        initial="in",
        required=False,
        help_text="Your clinic's records, backups and messages stay in this region.",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["region"].choices = [  # type: ignore[attr-defined]
            (region, REGION_NAMES.get(region, region)) for region in regions()
        ]
        self.fields["timezone"].choices = [(tz, tz) for tz in sorted(known_timezones())]  # type: ignore[attr-defined]

    def clean_region(self) -> str:
        return str(self.cleaned_data.get("region") or "in")
