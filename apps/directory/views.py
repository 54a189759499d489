"""The directory API on the public host: where a tenant lives."""

import re

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import NotFound
from apps.core.hosts import host_url
from apps.directory.selectors import location_of
from apps.directory.serializers import LocationSerializer

# What a slug can look like (apps.tenants.rules); anything else names no tenant.
SLUG = re.compile(r"[a-z][a-z0-9-]{0,30}")


class DirectoryApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "slug",
                {"type": "string", "maxLength": 31},
                OpenApiParameter.PATH,
                description="The tenant's address (its host's first label).",
            )
        ],
        responses={200: LocationSerializer},
        tags=["directory"],
        summary="Where a tenant lives: its region and host (public host)",
    )
    def get(self, request: Request, slug: str) -> Response:
        location = location_of(slug) if SLUG.fullmatch(slug) else None
        if location is None:
            raise NotFound("No tenant has this address.")
        body = LocationSerializer(
            {
                "slug": location.slug,
                "region": location.region,
                "domain": location.domain,
                "cell": location.cell,
                "api": f"{host_url(request, location.domain)}/api/v1/",
            }
        )
        return Response(body.data)
