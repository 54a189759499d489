"""Reading the event log over the API (the route decides which roles may)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.eventstore.models import Event


class EventQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = ["position", "type", "stream", "version", "occurred_at", "data"]


class EventListApi(APIView):
    @extend_schema(
        parameters=[EventQuerySerializer],
        responses={200: EventSerializer(many=True)},
        tags=["events"],
    )
    def get(self, request: Request) -> Response:
        query = EventQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        events = Event.objects.filter(position__gt=query.validated_data["after"]).order_by(
            "position"
        )[: query.validated_data["limit"]]
        return Response(EventSerializer(events, many=True).data)
