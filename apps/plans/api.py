"""`GET /api/v1/subscription/` (owner): the plan, its modules and limits, this month's usage."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.db import connection
from apps.core.errors import NotFound
from apps.plans.summary import subscription_summary


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()


class UsageSerializer(serializers.Serializer):
    doctors = serializers.IntegerField(help_text="The month's highest number of active doctors.")
    branches = serializers.IntegerField(help_text="The month's highest number of branches.")
    bookings = serializers.IntegerField()
    messages = serializers.IntegerField(help_text="Patient messages the providers took.")
    hl7_messages = serializers.IntegerField()
    storage_bytes = serializers.IntegerField(
        help_text="Bytes the clinic occupies (database, warehouse, files): the month's last "
        "measurement; 0 until the first."
    )


class StorageSerializer(serializers.Serializer):
    schema_bytes = serializers.IntegerField(help_text="Tables, indexes and TOAST of its schema.")
    warehouse_bytes = serializers.IntegerField()
    files_bytes = serializers.IntegerField(help_text="Exports, audit anchors, backups.")
    peak_bytes = serializers.IntegerField(help_text="The month's highest total.")
    measured_at = serializers.DateTimeField()


class LimitsSerializer(serializers.Serializer):
    doctors = serializers.IntegerField(allow_null=True, help_text="null: no limit.")
    branches = serializers.IntegerField(allow_null=True)
    bookings = serializers.IntegerField(allow_null=True, help_text="A month.")


class SubscriptionSerializer(serializers.Serializer):
    plan = serializers.CharField(help_text="The plan's slug: clinic, chain, hospital, ...")
    plan_name = serializers.CharField()
    status = serializers.ChoiceField(choices=["trial", "active", "past_due", "suspended", "closed"])
    modules = serializers.ListField(
        child=serializers.CharField(), help_text="The modules the tenant may use now."
    )
    period = PeriodSerializer(help_text="This calendar month on the platform's billing clock.")
    usage = UsageSerializer()
    messages_by_channel = serializers.DictField(child=serializers.IntegerField())
    storage = StorageSerializer(allow_null=True, help_text="null until first measured.")
    limits = LimitsSerializer()
    trial_ends_at = serializers.DateTimeField(allow_null=True)
    grace_ends_at = serializers.DateTimeField(allow_null=True)


class SubscriptionApi(APIView):
    @extend_schema(responses={200: SubscriptionSerializer}, tags=["subscription"])
    def get(self, request: Request) -> Response:
        summary = subscription_summary(connection.schema_name)
        if summary is None:
            raise NotFound("This clinic has no subscription.")
        return Response(SubscriptionSerializer(summary.as_dict()).data)
