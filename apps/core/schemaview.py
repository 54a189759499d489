"""The view serving the OpenAPI document (apart from `apps.core.openapi`, which the schema
generator imports while this module's base class is being set up)."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request
from rest_framework.response import Response


class SchemaApi(SpectacularAPIView):
    """The OpenAPI document: YAML by default, JSON for `?format=json` or an Accept header of
    `application/vnd.oai.openapi+json` (DRF's `format` switch is off project-wide, because
    `?format=csv` belongs to the report views)."""

    FORMATS = ("json", "yaml")

    def get_format_suffix(self, **kwargs: Any) -> str | None:
        wanted = self.request.GET.get("format")
        return wanted if wanted in self.FORMATS else None

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=FORMATS, description="default yaml")],
        responses={
            (200, "application/vnd.oai.openapi"): OpenApiTypes.OBJECT,
            (200, "application/yaml"): OpenApiTypes.OBJECT,
            (200, "application/vnd.oai.openapi+json"): OpenApiTypes.OBJECT,
            (200, "application/json"): OpenApiTypes.OBJECT,
        },
        tags=["schema"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
