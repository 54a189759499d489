"""Integration API (owners and managers): HL7 channels and the error queue."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clinic.permissions import ManagersOnly
from apps.clinic.scoping import staff_of
from apps.core.api import get_visible
from apps.core.errors import NotFound
from apps.integration import commands, selectors
from apps.integration.models import Channel, MappingVersion, Message
from apps.integration.serializers import (
    Hl7ChannelRequestSerializer,
    Hl7ChannelSerializer,
    Hl7MappingRequestSerializer,
    Hl7MappingSerializer,
    Hl7MappingTestRequestSerializer,
    Hl7MappingTestResultSerializer,
    Hl7MessageFilterSerializer,
    Hl7MessageSerializer,
    Hl7ReprocessRequestSerializer,
)


class ChannelListApi(generics.ListAPIView):
    serializer_class = Hl7ChannelSerializer
    permission_classes = [ManagersOnly]

    def get_queryset(self) -> QuerySet[Channel]:
        return selectors.channels()

    @extend_schema(tags=["integration"])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=Hl7ChannelRequestSerializer,
        responses={201: Hl7ChannelSerializer},
        tags=["integration"],
    )
    def post(self, request: Request) -> Response:
        body = Hl7ChannelRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        channel = commands.channel_add(actor=staff_of(request), **body.validated_data)
        return Response(Hl7ChannelSerializer(channel).data, status=status.HTTP_201_CREATED)


class MessageListApi(generics.ListAPIView):
    serializer_class = Hl7MessageSerializer
    permission_classes = [ManagersOnly]

    @extend_schema(parameters=[Hl7MessageFilterSerializer], tags=["integration"])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Message]:
        filters = Hl7MessageFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.messages(**filters.validated_data)


class MessageReprocessApi(APIView):
    permission_classes = [ManagersOnly]

    @extend_schema(
        request=Hl7ReprocessRequestSerializer,
        responses={200: Hl7MessageSerializer},
        tags=["integration"],
    )
    def post(self, request: Request, pk: int) -> Response:
        body = Hl7ReprocessRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        message = get_visible(Message.objects.select_related("channel"), pk, "Message")
        done = commands.message_reprocess(
            actor=staff_of(request), message=message, raw=body.validated_data.get("raw")
        )
        return Response(Hl7MessageSerializer(done).data)


def _channel(pk: int) -> Channel:
    return get_visible(Channel.objects.all(), pk, "Channel")


def _version(pk: int, number: int) -> MappingVersion:
    versions = MappingVersion.objects.filter(channel_id=pk, number=number)
    found = versions.select_related("channel").first()
    if found is None:
        raise NotFound("Mapping version not found.")
    return found


class MappingListApi(generics.ListAPIView):
    """A channel's mapping versions, newest first; POST drafts a new one."""

    serializer_class = Hl7MappingSerializer
    permission_classes = [ManagersOnly]

    def get_queryset(self) -> QuerySet[MappingVersion]:
        return selectors.mappings(channel=_channel(self.kwargs["pk"]))

    @extend_schema(tags=["integration"])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=Hl7MappingRequestSerializer,
        responses={201: Hl7MappingSerializer},
        tags=["integration"],
    )
    def post(self, request: Request, pk: int) -> Response:
        channel = _channel(pk)
        body = Hl7MappingRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = commands.mapping_draft(
            actor=staff_of(request), channel=channel, document=body.validated_data["document"]
        )
        return Response(Hl7MappingSerializer(version).data, status=status.HTTP_201_CREATED)


class MappingTestApi(APIView):
    """What a version makes of sample messages, before it goes live (nothing is applied; a
    draft tried this way may go live)."""

    permission_classes = [ManagersOnly]

    @extend_schema(
        request=Hl7MappingTestRequestSerializer,
        responses={200: Hl7MappingTestResultSerializer(many=True)},
        tags=["integration"],
    )
    def post(self, request: Request, pk: int, number: int) -> Response:
        version = _version(pk, number)
        body = Hl7MappingTestRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        results = commands.mapping_test(
            actor=staff_of(request), version=version, samples=body.validated_data["samples"]
        )
        return Response(Hl7MappingTestResultSerializer(results, many=True).data)


class MappingActivateApi(APIView):
    permission_classes = [ManagersOnly]

    @extend_schema(request=None, responses={200: Hl7MappingSerializer}, tags=["integration"])
    def post(self, request: Request, pk: int, number: int) -> Response:
        version = commands.mapping_activate(actor=staff_of(request), version=_version(pk, number))
        return Response(Hl7MappingSerializer(version).data)
