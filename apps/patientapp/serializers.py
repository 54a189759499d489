"""Request and response shapes of the patient app. Serializers never save."""

from rest_framework import serializers

from apps.billing.serializers import InvoiceSerializer
from apps.core.dates import BoundedDateField
from apps.scheduling.serializers import InstantField, PhoneField


class CodeRequestSerializer(serializers.Serializer):
    phone = PhoneField()


class CodeSentSerializer(serializers.Serializer):
    detail = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds the code stays valid")


class SignInSerializer(serializers.Serializer):
    phone = PhoneField()
    code = serializers.CharField(max_length=16, help_text="The six digits sent by SMS")


class PatientSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SignedInSerializer(serializers.Serializer):
    token = serializers.CharField()
    patient = PatientSummarySerializer()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    phone = serializers.CharField()
    date_of_birth = BoundedDateField(allow_null=True)


class BookableDoctorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    specialty = serializers.CharField()
    branch = serializers.IntegerField(source="branch_id")
    branch_name = serializers.CharField(source="branch.name")
    fee = serializers.DecimalField(
        source="consultation_fee", max_digits=10, decimal_places=2, coerce_to_string=True
    )
    slot_minutes = serializers.IntegerField()


class DoctorFilterSerializer(serializers.Serializer):
    branch = serializers.IntegerField(required=False, min_value=1)


class PatientBookSerializer(serializers.Serializer):
    doctor = serializers.IntegerField(min_value=1)
    start = InstantField()


class PatientCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="Cancelled in the patient app"
    )


class PatientInvoiceSerializer(InvoiceSerializer):
    id = serializers.IntegerField()
    appointment = serializers.IntegerField()


class PatientWaitlistJoinSerializer(serializers.Serializer):
    doctor = serializers.IntegerField(min_value=1)
    date = BoundedDateField(help_text="Today or a later day (400 otherwise).")
