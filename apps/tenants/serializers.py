from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.clinic.models import STAFF_LANGUAGES
from apps.clinic.serializers import NewPasswordField, TimezoneField
from apps.directory.cells import regions
from apps.tenants.models import Tenant
from apps.tenants.rules import RESERVED_SLUGS, SUPPORTED_CURRENCIES


@extend_schema_field(
    {"type": "string", "pattern": r"^[a-z][a-z0-9-]{1,29}[a-z0-9]$", "maxLength": 31,
     "not": {"anyOf": [{"pattern": "^pg-"}, {"enum": sorted(RESERVED_SLUGS)}]},
     "example": "sunrise-clinic",
     "description": "3 to 31 lowercase letters, digits and hyphens, starting with a letter and "
     "not ending with a hyphen; a taken or reserved one (www, admin, api, …) is refused "
     "(400 on `slug`)."}
)  # fmt: skip
class SlugField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=63, **kwargs)


class OnboardingSerializer(serializers.Serializer):
    clinic_name = serializers.CharField(max_length=200)
    slug = SlugField()
    kind = serializers.ChoiceField(choices=Tenant.Kind.choices)
    owner_name = serializers.CharField(max_length=150)
    owner_email = serializers.EmailField()
    owner_password = NewPasswordField()
    timezone = TimezoneField(default="Asia/Kolkata")
    currency = serializers.ChoiceField(choices=sorted(SUPPORTED_CURRENCIES), default="INR")
    # The regions this deployment's cells serve (the contract names in, gcc, sea, eu).
    region = serializers.ChoiceField(choices=regions(), default="in")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = regions()  # type: ignore[attr-defined]


class OnboardedSerializer(serializers.Serializer):
    slug = serializers.CharField()
    domain = serializers.CharField()
    region = serializers.CharField()


class CellOnboardingSerializer(OnboardingSerializer):
    """A sign-up another cell forwards (`/internal/cells/onboarding/`), with the public site's
    address for the confirmation email."""

    site_url = serializers.URLField()
    # The language the sign-up page spoke: the owner's console and confirmation email.
    owner_language = serializers.ChoiceField(choices=STAFF_LANGUAGES, default="en")


class CellOnboardedSerializer(OnboardedSerializer):
    schema_name = serializers.CharField()
    owner_id = serializers.IntegerField()
