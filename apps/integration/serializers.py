"""Shapes of the integration API. Message rows carry ids, codes and our own error wording:
never the message text (it names patients)."""

from rest_framework import serializers

from apps.integration.models import ApplicationAck, Channel, MappingVersion, Message


class Hl7ChannelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Channel
        fields = [
            "id", "name", "sending_facility", "direction", "hold_on_error", "max_retries",
            "host", "port", "active", "created",
        ]  # fmt: skip


class Hl7ChannelRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    # A facility code as HL7 carries it in MSH-4/MSH-6: no delimiter characters.
    sending_facility = serializers.RegexField(
        r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$",
        max_length=60,
        error_messages={"invalid": "Letters, digits, space, . _ - only."},
    )
    direction = serializers.ChoiceField(choices=Channel.Direction.choices)
    hold_on_error = serializers.BooleanField(required=False, default=False)
    max_retries = serializers.IntegerField(required=False, default=3, min_value=0, max_value=10)
    host = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=253,
        help_text="Outbound: the hospital's MLLP listener. Inbound (optional): where its "
        "system listens for the application ACKs it asks for (MSH-16); with `port`.",
    )
    port = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=65535)


class Hl7ApplicationAckSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApplicationAck
        fields = ["code", "control_id", "status", "attempts", "next_attempt_at", "error",
                  "sent_at"]  # fmt: skip


class Hl7MessageSerializer(serializers.ModelSerializer):
    application_acks = Hl7ApplicationAckSerializer(
        source="app_acks",
        many=True,
        read_only=True,
        help_text="Application ACKs owed to the sender (enhanced mode, MSH-16), oldest first.",
    )

    class Meta:
        model = Message
        fields = [
            "id", "channel", "control_id", "message_type", "status", "error", "attempts",
            "next_attempt_at", "patient", "received_at", "applied_at", "application_acks",
        ]  # fmt: skip


class Hl7MessageFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Message.Status.choices, required=False)
    channel = serializers.IntegerField(required=False, min_value=1)


class Hl7ReprocessRequestSerializer(serializers.Serializer):
    raw = serializers.CharField(required=False, max_length=1024 * 1024, trim_whitespace=False)


class Hl7MappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = MappingVersion
        fields = [
            "id", "channel", "number", "document", "status", "created", "tested_at",
            "activated_at",
        ]  # fmt: skip


class Hl7MappingRequestSerializer(serializers.Serializer):
    document = serializers.JSONField(
        help_text="The mapping: {triggers: {A04: register|admit|update|discharge|merge}, "
        "fields: {identifier|prior_identifier|name|phone|date_of_birth: {path|paths, repeat?, "
        "table?, strict?, default?, required?, format?}}} (docs/INTEGRATION.md); a document "
        "of another shape is refused on `document`."
    )


class Hl7MappingTestRequestSerializer(serializers.Serializer):
    samples = serializers.ListField(
        child=serializers.CharField(max_length=64 * 1024, trim_whitespace=False),
        min_length=1,
        max_length=20,
    )


class Hl7MappingTestResultSerializer(serializers.Serializer):
    control_id = serializers.CharField()
    message_type = serializers.CharField()
    action = serializers.CharField(allow_null=True)
    values = serializers.DictField(child=serializers.CharField())
    error = serializers.CharField(allow_blank=True)
