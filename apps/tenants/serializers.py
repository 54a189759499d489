from rest_framework import serializers

from apps.tenants.models import Tenant


class OnboardingSerializer(serializers.Serializer):
    clinic_name = serializers.CharField(max_length=200)
    slug = serializers.CharField(max_length=63)
    kind = serializers.ChoiceField(choices=Tenant.Kind.choices)
    owner_name = serializers.CharField(max_length=150)
    owner_email = serializers.EmailField()
    owner_password = serializers.CharField(max_length=128, trim_whitespace=False)
    timezone = serializers.CharField(max_length=64, default="Asia/Kolkata")
    currency = serializers.CharField(max_length=3, default="INR")


class OnboardedSerializer(serializers.Serializer):
    slug = serializers.CharField()
    domain = serializers.CharField()
