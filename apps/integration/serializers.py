"""Shapes of the integration API. Message rows carry ids, codes and our own error wording:
never the message text (it names patients)."""

from rest_framework import serializers

from apps.integration.models import Channel, Message


class ChannelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Channel
        fields = [
            "id", "name", "sending_facility", "direction", "hold_on_error", "max_retries",
            "host", "port", "active", "created",
        ]  # fmt: skip


class ChannelRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    sending_facility = serializers.CharField(max_length=60)
    direction = serializers.ChoiceField(choices=Channel.Direction.choices)
    hold_on_error = serializers.BooleanField(required=False, default=False)
    max_retries = serializers.IntegerField(required=False, default=3, min_value=0, max_value=10)
    host = serializers.CharField(required=False, default="", allow_blank=True, max_length=253)
    port = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=65535)


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id", "channel", "control_id", "message_type", "status", "error", "attempts",
            "next_attempt_at", "patient", "received_at", "applied_at",
        ]  # fmt: skip


class MessageFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Message.Status.choices, required=False)
    channel = serializers.IntegerField(required=False, min_value=1)


class ReprocessRequestSerializer(serializers.Serializer):
    raw = serializers.CharField(required=False, max_length=1024 * 1024, trim_whitespace=False)
