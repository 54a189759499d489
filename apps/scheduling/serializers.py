"""Request parsing and response shapes of the scheduling API. Serializers never save."""

from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.dates import BoundedDateField, parse_instant
from apps.scheduling.formats import local_iso
from apps.scheduling.models import Appointment, Doctor, Patient, WaitlistEntry


class InstantField(serializers.DateTimeField):
    """ISO 8601 instant; one without an offset is read later in the branch's time zone."""

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str):
            self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss]±hh:mm")
        try:
            return parse_instant(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from exc


class WeeklyHoursItemSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6)
    start = serializers.RegexField(r"^\d{2}:\d{2}$")
    end = serializers.RegexField(r"^\d{2}:\d{2}$")


class DoctorSerializer(serializers.ModelSerializer):
    weekly_hours = WeeklyHoursItemSerializer(many=True)
    consultation_fee = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, coerce_to_string=True
    )
    slot_minutes = serializers.IntegerField(min_value=5, max_value=240)
    branch = serializers.IntegerField(source="branch_id")
    user = serializers.IntegerField(source="user_id", required=False, allow_null=True)

    class Meta:
        model = Doctor
        fields = [
            "id", "name", "branch", "specialty", "slot_minutes", "consultation_fee",
            "weekly_hours", "user", "active",
        ]  # fmt: skip
        read_only_fields = ["active"]


class LeaveSerializer(serializers.Serializer):
    start_date = BoundedDateField()
    end_date = BoundedDateField()
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
    """A patient's personal fields are unsealed on read; null once the patient is erased."""

    id = serializers.IntegerField(read_only=True)
    # Null only once the patient is erased (reads); requests must give them.
    name = ErasableCharField(max_length=150)
    phone = ErasableCharField(max_length=32)
    date_of_birth = BoundedDateField(required=False, allow_null=True)
    address = ErasableCharField(max_length=500, required=False, allow_blank=True)
    notes = ErasableCharField(max_length=2000, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True, allow_null=True)
    language = serializers.ChoiceField(choices=Patient.LANGUAGES, required=False, default="en")
    branch = serializers.IntegerField(
        source="registered_branch_id", required=False, allow_null=True
    )
    created = serializers.DateTimeField(read_only=True)
    erased = serializers.DateTimeField(read_only=True, allow_null=True)


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
            "follow_up_of",
        ]  # fmt: skip

    def _zone(self, appointment: Appointment) -> str:
        return appointment.branch.timezone

    def get_start(self, appointment: Appointment) -> str:
        return local_iso(appointment.start, self._zone(appointment))

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
    start = serializers.CharField(help_text="ISO 8601 with the branch's offset")
    end = serializers.CharField()


class ReadModelRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    start = serializers.CharField()
    end = serializers.CharField()
    status = serializers.ChoiceField(choices=Appointment.Status.choices)
    patient = serializers.IntegerField()
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
    date = BoundedDateField()


class WaitlistFilterSerializer(serializers.Serializer):
    doctor = serializers.IntegerField(required=False, min_value=1)
    date = BoundedDateField(required=False)
    status = serializers.ChoiceField(choices=WaitlistEntry.Status.choices, required=False)


class HoldSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    start = serializers.CharField(help_text="ISO 8601 with the branch's offset")
    end = serializers.CharField()
    expires_at = serializers.CharField()


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
