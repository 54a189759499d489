from rest_framework import serializers

from apps.clinic.models import Branch, Role, User
from apps.clinic.signin import sign_in


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
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class BranchSerializer(serializers.ModelSerializer):
    timezone = serializers.CharField(max_length=64, required=False)

    class Meta:
        model = Branch
        fields = ["id", "name", "city", "timezone"]


class StaffSerializer(serializers.ModelSerializer):
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    role = serializers.ChoiceField(choices=Role.choices)
    branches = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Branch.objects.all()
    )
    email = serializers.EmailField(max_length=254)

    class Meta:
        model = User
        fields = ["id", "name", "email", "password", "role", "branches", "is_active"]
        read_only_fields = ["is_active"]

    def validate_role(self, value: str) -> str:
        if value == Role.OWNER:
            raise serializers.ValidationError("Owners are made at sign-up; give another role.")
        return value
