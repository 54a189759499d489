"""Exports API (owners): ask for the tenant's whole record, follow it, download it."""

from typing import Any

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clinic.models import Role
from apps.clinic.permissions import roles
from apps.clinic.scoping import staff_of
from apps.core.errors import NotFound
from apps.exports import commands
from apps.exports.models import Export
from apps.exports.storage import export_path

OWNERS = frozenset({Role.OWNER})
OwnersOnly = roles(read=OWNERS, write=OWNERS)


class ExportRequestSerializer(serializers.Serializer):
    passphrase = serializers.CharField(
        trim_whitespace=False,
        min_length=commands.MIN_PASSPHRASE,
        max_length=1024,
        help_text="Encrypts the archive (age format); at least 12 characters. Not stored: "
        "without it the archive cannot be opened.",
    )


class ExportQueuedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()


class ExportSerializer(serializers.ModelSerializer):
    download = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = ["id", "status", "created", "finished", "size", "sha256", "counts", "error",
                  "download"]  # fmt: skip

    def get_download(self, export: Export) -> str | None:
        if export.status != Export.Status.READY:
            return None
        request = self.context["request"]
        return str(request.build_absolute_uri(reverse("api-export-download", args=[export.pk])))


def _export(pk: int) -> Export:
    export = Export.objects.filter(pk=pk).first()
    if export is None:
        raise NotFound("Export not found.")
    return export


class ExportListApi(APIView):
    permission_classes = [OwnersOnly]

    @extend_schema(responses={200: ExportSerializer(many=True)}, tags=["exports"])
    def get(self, request: Request) -> Response:
        exports = Export.objects.all()[:50]
        return Response(ExportSerializer(exports, many=True, context={"request": request}).data)

    @extend_schema(
        request=ExportRequestSerializer, responses={202: ExportQueuedSerializer}, tags=["exports"]
    )
    def post(self, request: Request) -> Response:
        given = ExportRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        export = commands.export_request(
            actor=staff_of(request), passphrase=given.validated_data["passphrase"]
        )
        return Response({"id": export.pk, "status": export.status}, status=202)


class ExportDetailApi(APIView):
    permission_classes = [OwnersOnly]

    @extend_schema(responses={200: ExportSerializer}, tags=["exports"])
    def get(self, request: Request, pk: int) -> Response:
        return Response(ExportSerializer(_export(pk), context={"request": request}).data)


class ExportDownloadApi(APIView):
    permission_classes = [OwnersOnly]

    @extend_schema(responses={(200, "application/octet-stream"): bytes}, tags=["exports"])
    def get(self, request: Request, pk: int) -> Any:
        export = _export(pk)
        path = export_path(export.pk)
        if export.status != Export.Status.READY or not path.exists():
            raise NotFound("This export has no archive to download.")
        commands.export_downloaded(actor=staff_of(request), export=export)
        response = FileResponse(
            path.open("rb"), as_attachment=True, filename=f"mymedic-export-{export.pk}.tar.gz.age"
        )
        response["Cache-Control"] = "no-store"
        return response
