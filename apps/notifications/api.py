"""Notifications API: the dead-letter list and a person's retry (owners and managers)."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clinic.permissions import ManagersOnly
from apps.clinic.scoping import staff_of
from apps.core.api import get_visible
from apps.notifications import commands
from apps.notifications.models import Delivery, Kind


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "id", "key", "kind", "status", "channel", "branch_id", "patient_id",
            "appointment_id", "attempts", "next_attempt_at", "claimed_at", "sent_at",
            "last_error", "created", "updated",
        ]  # fmt: skip


class DeadLetterFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Kind.choices, required=False)
    branch = serializers.IntegerField(required=False, min_value=1)


class DeadLetterListApi(generics.ListAPIView):
    serializer_class = DeliverySerializer
    permission_classes = [ManagersOnly]

    @extend_schema(parameters=[DeadLetterFilterSerializer], tags=["notifications"])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Delivery]:
        filters = DeadLetterFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        dead = Delivery.objects.filter(status=Delivery.Status.DEAD).order_by("-updated", "-id")
        if "kind" in filters.validated_data:
            dead = dead.filter(kind=filters.validated_data["kind"])
        if "branch" in filters.validated_data:
            dead = dead.filter(branch_id=filters.validated_data["branch"])
        return dead


class DeliveryRetryApi(APIView):
    permission_classes = [ManagersOnly]

    @extend_schema(request=None, responses={200: DeliverySerializer}, tags=["notifications"])
    def post(self, request: Request, pk: int) -> Response:
        delivery = get_visible(Delivery.objects.all(), pk, "Notification")
        retried = commands.delivery_retry(actor=staff_of(request), delivery=delivery)
        return Response(DeliverySerializer(retried).data)
