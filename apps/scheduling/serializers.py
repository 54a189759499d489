"""Request parsing and response shapes of the scheduling API. Serializers never save."""

from datetime import datetime
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.dates import BoundedDateField, parse_instant
from apps.scheduling.formats import local_iso
from apps.scheduling.models import Appointment, Doctor, Patient, WaitlistEntry


@extend_schema_field(OpenApiTypes.DATETIME)
class LocalInstantField(serializers.CharField):
    """An instant as the API answers it: ISO 8601 with the branch's offset."""


class InstantField(serializers.DateTimeField):
    """ISO 8601 instant; one without an offset is read later in the branch's time zone."""

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str):
            self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss]±hh:mm")
        try:
            return parse_instant(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from exc


# A phone number as `normalize_phone` takes it without separators: +country and 8-15 digits,
# 00country..., or a national number of ten digits (with a leading 0: eleven).
PHONE_PATTERN = r"^(\+[0-9]{8,15}|00[0-9]{8,15}|0?[0-9]{10})$"


@extend_schema_field(
    {"type": "string", "pattern": PHONE_PATTERN, "maxLength": 32, "example": "+919812345678",
     "description": "With its country code (+91…) or ten national digits; spaces, dashes "
     "and brackets are also accepted and dropped."}
)  # fmt: skip
class PhoneField(serializers.CharField):
    """A phone number in a request; `normalize_phone` gives its one stored form."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=32, **kwargs)


# An ABHA number as `normalize_abha_number` takes it: 14 digits, grouped 2-4-4-4 or not.
ABHA_PATTERN = r"^[0-9]{2}[- ]?[0-9]{4}[- ]?[0-9]{4}[- ]?[0-9]{4}$"

# Times of day as the weekly hours grid takes them: 00:00 to 23:59.
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class WeeklyHoursItemSerializer(serializers.Serializer):
    """One working interval; `start` before `end`, intervals of a day must not overlap."""

    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 = Monday")
    start = serializers.RegexField(CLOCK_PATTERN)
    end = serializers.RegexField(CLOCK_PATTERN)


class DoctorSerializer(serializers.ModelSerializer):
    weekly_hours = WeeklyHoursItemSerializer(many=True)
    consultation_fee = serializers.DecimalField(
        max_digits=8, decimal_places=2, min_value=0, coerce_to_string=True
    )
    slot_minutes = serializers.IntegerField(min_value=5, max_value=240)
    branch = serializers.IntegerField(source="branch_id", min_value=1)
    user = serializers.IntegerField(
        source="user_id", required=False, allow_null=True, min_value=1,
        help_text="A staff member with the doctor role not linked to another doctor.",
    )  # fmt: skip

    class Meta:
        model = Doctor
        fields = [
            "id", "name", "branch", "specialty", "slot_minutes", "consultation_fee",
            "weekly_hours", "user", "active",
        ]  # fmt: skip
        read_only_fields = ["active"]


class DoctorCreatedSerializer(DoctorSerializer):
    position = serializers.IntegerField()

    class Meta(DoctorSerializer.Meta):
        fields = [*DoctorSerializer.Meta.fields, "position"]


class DoctorFilterSerializer(serializers.Serializer):
    branch = serializers.IntegerField(required=False, min_value=1)


class PatientFilterSerializer(serializers.Serializer):
    phone = PhoneField(required=False, help_text="Find by phone (an audited search).")


class LeaveSerializer(serializers.Serializer):
    start_date = BoundedDateField()
    end_date = BoundedDateField(help_text="On or after `start_date` (400 otherwise).")
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ClosureSerializer(serializers.Serializer):
    date = BoundedDateField()
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class SlotQuerySerializer(serializers.Serializer):
    date = BoundedDateField()


@extend_schema_field({"type": "string", "nullable": True})
class ErasableCharField(serializers.CharField):
    """A patient's text field: required on write, null on read once the patient is erased."""


class PatientSerializer(serializers.Serializer):
    """A patient as the API answers: personal fields unsealed, null once the patient is
    erased; `email` is an address or null, never empty."""

    id = serializers.IntegerField(read_only=True)
    name = ErasableCharField(max_length=150)
    phone = ErasableCharField(max_length=32)
    date_of_birth = BoundedDateField(required=False, allow_null=True)
    address = ErasableCharField(max_length=500, required=False, allow_blank=True)
    notes = ErasableCharField(max_length=2000, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_null=True)
    abha_number = serializers.CharField(
        required=False, allow_null=True, help_text="The ABHA number, `NN-NNNN-NNNN-NNNN`."
    )
    language = serializers.ChoiceField(choices=Patient.LANGUAGES, required=False, default="en")
    branch = serializers.IntegerField(
        source="registered_branch_id", required=False, allow_null=True
    )
    created = serializers.DateTimeField(read_only=True)
    erased = serializers.DateTimeField(read_only=True, allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        body: dict[str, Any] = super().to_representation(instance)
        body["email"] = body["email"] or None
        body["abha_number"] = body.get("abha_number") or None
        return body


class PatientCreatedSerializer(PatientSerializer):
    position = serializers.IntegerField()


class PatientRegisterSerializer(serializers.Serializer):
    """A new patient. `date_of_birth` must be a past day."""

    name = serializers.CharField(max_length=150)
    phone = PhoneField()
    date_of_birth = BoundedDateField(required=False, allow_null=True)
    address = serializers.CharField(max_length=500, required=False, allow_blank=True)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True, allow_null=True)
    abha_number = serializers.RegexField(
        ABHA_PATTERN, max_length=20, required=False, allow_blank=True, allow_null=True,
        help_text="India's ABHA number: 14 digits, dashes or spaces allowed.",
    )  # fmt: skip
    language = serializers.ChoiceField(choices=Patient.LANGUAGES, required=False, default="en")
    branch = serializers.IntegerField(
        source="registered_branch_id", required=False, allow_null=True, min_value=1
    )


class AppointmentSerializer(serializers.ModelSerializer):
    start = serializers.SerializerMethodField()
    end = serializers.SerializerMethodField()
    doctor = serializers.IntegerField(source="doctor_id")
    patient = serializers.IntegerField(source="patient_id")
    branch = serializers.IntegerField(source="branch_id")
    follow_up_of = serializers.IntegerField(source="follow_up_of_id", allow_null=True)

    class Meta:
        model = Appointment
        fields = [
            "id", "doctor", "patient", "branch", "start", "end", "status", "cancel_reason",
            "follow_up_of", "token",
        ]  # fmt: skip

    def _zone(self, appointment: Appointment) -> str:
        return appointment.branch.timezone

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_start(self, appointment: Appointment) -> str:
        return local_iso(appointment.start, self._zone(appointment))

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_end(self, appointment: Appointment) -> str:
        return local_iso(appointment.end, self._zone(appointment))


class AppointmentCommandResultSerializer(AppointmentSerializer):
    """An appointment as a command returns it: with the event-log position of the change."""

    position = serializers.IntegerField()

    class Meta(AppointmentSerializer.Meta):
        fields = [*AppointmentSerializer.Meta.fields, "position"]


class AppointmentDetailSerializer(AppointmentSerializer):
    history = serializers.SerializerMethodField()

    class Meta(AppointmentSerializer.Meta):
        fields = [*AppointmentSerializer.Meta.fields, "history"]

    def get_history(self, appointment: Appointment) -> list[dict[str, Any]]:
        zone = self._zone(appointment)
        return [
            {
                "position": event.position,
                "type": event.type,
                "version": event.version,
                "occurred_at": local_iso(event.occurred_at, zone),
                "data": event.data,
            }
            for event in appointment.history()
        ]


class SlotSerializer(serializers.Serializer):
    start = LocalInstantField(help_text="ISO 8601 with the branch's offset")
    end = LocalInstantField()


class ReadModelRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    start = serializers.CharField()
    end = serializers.CharField()
    status = serializers.ChoiceField(choices=Appointment.Status.choices)
    patient = serializers.IntegerField()
    token = serializers.IntegerField(
        allow_null=True,
        help_text="The queue token given at check-in (1, 2, 3… per doctor per day, in "
        "check-in order); null before check-in",
    )
    doctor = serializers.IntegerField(required=False)
    repeat_no_show = serializers.BooleanField(
        required=False,
        help_text="Branch board only: booked by a patient over the tenant's no-show threshold "
        "(a deposit or no-show fee may apply)",
    )


class DoctorDaySerializer(serializers.Serializer):
    doctor = serializers.IntegerField()
    date = BoundedDateField()
    as_of_position = serializers.IntegerField()
    appointments = ReadModelRowSerializer(many=True)


class BoardSerializer(serializers.Serializer):
    branch = serializers.IntegerField()
    date = BoundedDateField()
    as_of_position = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    takings = serializers.DictField(child=serializers.CharField())
    appointments = ReadModelRowSerializer(many=True)


class UpcomingSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    as_of_position = serializers.IntegerField()
    appointments = ReadModelRowSerializer(many=True)


class LeaveResultSerializer(LeaveSerializer):
    id = serializers.IntegerField()
    doctor = serializers.IntegerField()
    position = serializers.IntegerField()


class ClosureResultSerializer(ClosureSerializer):
    id = serializers.IntegerField()
    branch = serializers.IntegerField()
    position = serializers.IntegerField()


class BookSerializer(serializers.Serializer):
    doctor = serializers.IntegerField(min_value=1)
    patient = serializers.IntegerField(min_value=1)
    start = InstantField()
    confirm_duplicate = serializers.BooleanField(
        required=False,
        default=True,
        help_text=(
            "false: refuse a second live visit of the patient with the same doctor that day "
            "(409 {detail, code: duplicate_visit, existing}). Absent or true: book it (v1)."
        ),
    )


class StartSerializer(serializers.Serializer):
    start = InstantField()


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class AppointmentFilterSerializer(serializers.Serializer):
    date = BoundedDateField(required=False)
    doctor = serializers.IntegerField(required=False, min_value=1)
    branch = serializers.IntegerField(required=False, min_value=1)
    patient = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=Appointment.Status.choices, required=False)


class WaitlistJoinSerializer(serializers.Serializer):
    doctor = serializers.IntegerField(min_value=1)
    patient = serializers.IntegerField(min_value=1)
    date = BoundedDateField(help_text="Today or a later day (400 otherwise).")


class WaitlistFilterSerializer(serializers.Serializer):
    doctor = serializers.IntegerField(required=False, min_value=1)
    date = BoundedDateField(required=False)
    status = serializers.ChoiceField(choices=WaitlistEntry.Status.choices, required=False)


class HoldSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    start = LocalInstantField(help_text="ISO 8601 with the branch's offset")
    end = LocalInstantField()
    expires_at = LocalInstantField()


class WaitlistEntrySerializer(serializers.ModelSerializer):
    doctor = serializers.IntegerField(source="doctor_id")
    patient = serializers.IntegerField(source="patient_id")
    branch = serializers.IntegerField(source="branch_id")
    hold = serializers.SerializerMethodField()

    class Meta:
        model = WaitlistEntry
        fields = ["id", "doctor", "patient", "branch", "date", "status", "created", "hold"]

    @extend_schema_field(HoldSerializer(allow_null=True))
    def get_hold(self, entry: WaitlistEntry) -> dict[str, Any] | None:
        """The live offer of an entry in state `offered`."""
        if entry.status != WaitlistEntry.Status.OFFERED:
            return None
        hold = entry.holds.filter(status="live").order_by("-id").first()
        if hold is None:
            return None
        zone = entry.branch.timezone
        return {
            "id": hold.pk,
            "start": local_iso(hold.start, zone),
            "end": local_iso(hold.end, zone),
            "expires_at": local_iso(hold.expires_at, zone),
        }


class WaitlistCommandResultSerializer(WaitlistEntrySerializer):
    position = serializers.IntegerField()

    class Meta(WaitlistEntrySerializer.Meta):
        fields = [*WaitlistEntrySerializer.Meta.fields, "position"]
