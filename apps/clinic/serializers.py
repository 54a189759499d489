from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.clinic.models import Branch, Role, User
from apps.clinic.signin import sign_in
from apps.core.timezones import known_timezones

# Django's password validators (settings.AUTH_PASSWORD_VALIDATORS) as far as a schema can say:
# 10 to 128 characters, not all digits. Common passwords and ones like the name or email are
# refused too (400 naming the field).
PASSWORD_SCHEMA = {
    "type": "string", "minLength": 10, "maxLength": 128, "pattern": r"[^0-9]",
    "writeOnly": True,
    "description": "10 to 128 characters, not only digits, not a common password and not "
    "like the name or email (400 on `password` otherwise).",
}  # fmt: skip


@extend_schema_field(PASSWORD_SCHEMA)
class NewPasswordField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=128, trim_whitespace=False, **kwargs)


def listed_timezones() -> list[str]:
    """The IANA zones the schema lists: `Area/Location` names (the server also takes aliases
    such as `UTC` or `Etc/GMT+1`, which client generators cannot tell apart as enum keys)."""
    return sorted(
        name for name in known_timezones() if "/" in name and not name.startswith(("Etc/", "US/"))
    )


@extend_schema_field(
    {"type": "string", "enum": listed_timezones(), "example": "Asia/Kolkata",
     "description": "An IANA time zone name, e.g. Asia/Kolkata."}
)  # fmt: skip
class TimezoneField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=64, **kwargs)


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)

    def validate(self, attrs: dict[str, str]) -> dict[str, object]:
        user = sign_in(self.context["request"], attrs["username"], attrs["password"])
        if user is None:
            raise serializers.ValidationError(
                {"detail": "Unable to sign in with these credentials."}, code="authorization"
            )
        return {"user": user}


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = NewPasswordField()


class BranchSerializer(serializers.ModelSerializer):
    """A branch; its name is unique in the clinic (400 on `name` otherwise)."""

    timezone = TimezoneField(required=False, help_text="The clinic's when not given.")

    class Meta:
        model = Branch
        fields = ["id", "name", "city", "timezone"]


# Owners are made at sign-up only.
GIVEN_ROLES = [(value, label) for value, label in Role.choices if value != Role.OWNER]


class StaffSerializer(serializers.ModelSerializer):
    """A staff member. The email is unique in the clinic; a branch manager, receptionist or
    doctor needs at least one branch (400 on `email` or `branches` otherwise)."""

    password = NewPasswordField(write_only=True)
    role = serializers.ChoiceField(choices=Role.choices)
    branches = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Branch.objects.all()
    )
    email = serializers.EmailField(max_length=254)

    class Meta:
        model = User
        fields = ["id", "name", "email", "password", "role", "branches", "is_active"]
        read_only_fields = ["is_active"]


class StaffCreateSerializer(StaffSerializer):
    role = serializers.ChoiceField(choices=GIVEN_ROLES, help_text="Owners are made at sign-up.")
