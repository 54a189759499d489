from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.queue.models import Consultation, QueueEntry
from apps.scheduling.formats import local_iso


class ConsultationResultSerializer(serializers.ModelSerializer):
    """A consultation as a queue command returns it, with the event-log position."""

    appointment = serializers.IntegerField(source="appointment_id")
    token = serializers.IntegerField(source="appointment.token")
    called_at = serializers.SerializerMethodField()
    started_at = serializers.SerializerMethodField()
    ended_at = serializers.SerializerMethodField()
    position = serializers.IntegerField()

    class Meta:
        model = Consultation
        fields = [
            "appointment", "token", "stage", "calls", "called_at", "started_at", "ended_at",
            "position",
        ]  # fmt: skip

    def _local(self, consultation: Consultation, field: str) -> str | None:
        instant = getattr(consultation, field)
        return local_iso(instant, consultation.branch.timezone) if instant else None

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_called_at(self, consultation: Consultation) -> str | None:
        return self._local(consultation, "called_at")

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_started_at(self, consultation: Consultation) -> str | None:
        return self._local(consultation, "started_at")

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_ended_at(self, consultation: Consultation) -> str | None:
        return self._local(consultation, "ended_at")


class QueueRowSerializer(serializers.Serializer):
    appointment = serializers.IntegerField()
    patient = serializers.IntegerField()
    token = serializers.IntegerField()
    stage = serializers.ChoiceField(choices=QueueEntry.Stage.choices)
    calls = serializers.IntegerField()
    start = serializers.DateTimeField()
    checked_in_at = serializers.DateTimeField()
    called_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    waiting_minutes = serializers.FloatField(
        allow_null=True, help_text="Check-in to start (to now while still waiting)"
    )
    consultation_minutes = serializers.FloatField(
        allow_null=True, help_text="Start to end (to now while under way)"
    )


class DoctorQueueSerializer(serializers.Serializer):
    doctor = serializers.IntegerField()
    date = serializers.DateField()
    as_of_position = serializers.IntegerField()
    serving = serializers.IntegerField(allow_null=True, help_text="The appointment called last")
    waiting = serializers.IntegerField()
    average_waiting_minutes = serializers.FloatField(allow_null=True)
    average_consultation_minutes = serializers.FloatField(allow_null=True)
    patients = QueueRowSerializer(many=True)
