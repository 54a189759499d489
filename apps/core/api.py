"""Cross-cutting API pieces: error mapping, pagination and finding a row within reach."""

from collections.abc import Iterable
from typing import Any, TypeVar

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import DomainError, NotFound

M = TypeVar("M", bound=Model)


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


class Negotiation(DefaultContentNegotiation):
    """DRF's negotiation without its parsing for the common case: a view with one renderer
    (every JSON view) asked with no Accept header, `*/*`, its type's `…/*` or its own media
    type gets that renderer at once, with the media type DRF would choose; any other header
    (and a format override) is negotiated by DRF, which answers 406 when nothing matches."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        if len(renderers) == 1 and format_suffix is None and not self.settings.URL_FORMAT_OVERRIDE:
            only = renderers[0]
            accept = request.META.get("HTTP_ACCEPT", "*/*")
            family = only.media_type.split("/", 1)[0] + "/*"
            if accept in ("*/*", family, only.media_type):
                return only, only.media_type
        chosen: tuple[BaseRenderer, str] = super().select_renderer(
            request, renderers, format_suffix
        )
        return chosen


def get_visible(queryset: QuerySet[M], pk: int, what: str) -> M:
    """The row `pk` of a queryset already narrowed to what the caller may see; else 404
    ("Doctor not found."), the same answer whether it exists elsewhere or not at all."""
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise NotFound(f"{what} not found.")
    return found


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the domain error and Django's ValidationError as 4xx."""
    if isinstance(exc, DomainError):
        response = Response(exc.as_dict(), status=exc.status_code)
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, RequestDataTooBig):  # DRF reads JSON and forms through request.body
        return Response(
            {"detail": "The request body is too large."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, DjangoValidationError):
        body = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for a path no route matches: JSON under /api/ (every API error body is JSON),
    Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    return page_not_found(request, exception)
