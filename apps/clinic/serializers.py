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


class BranchSerializer(serializers.ModelSerializer):
    timezone = serializers.CharField(max_length=64, required=False)

    class Meta:
        model = Branch
        fields = ["id", "name", "city", "timezone"]


class StaffSerializer(serializers.ModelSerializer):
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    role = serializers.ChoiceField(choices=[c for c in Role.choices if c[0] != Role.OWNER])
    branches = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Branch.objects.all()
    )
    email = serializers.EmailField(max_length=254)

    class Meta:
        model = User
        fields = ["id", "name", "email", "password", "role", "branches", "is_active"]
        read_only_fields = ["is_active"]
