"""Request routing by host: health checks, the public site and tenants."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django_tenants.middleware.main import TenantMainMiddleware

from apps.core.db import connection
from mymedic.health import healthz

HEALTH_PATH = "/healthz"


class HealthCheckMiddleware:
    """Answers `/healthz` on any host, before host validation and tenant lookup.

    Load balancers probe by IP address, which is not an allowed host.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.rstrip("/") == HEALTH_PATH:
            connection.set_schema_to_public()
            return healthz(request)
        return self.get_response(request)


class TenantRoutingMiddleware(TenantMainMiddleware):
    """`BASE_DOMAIN` is the public site; `{slug}.{BASE_DOMAIN}` is a tenant; anything else 404."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        connection.set_schema_to_public()
        try:
            hostname = self.hostname_from_request(request)
        except Exception:  # noqa: BLE001  (DisallowedHost and malformed hosts alike)
            return HttpResponseNotFound()
        if hostname == settings.BASE_DOMAIN:
            request.tenant = connection.tenant  # type: ignore[attr-defined]
            self.setup_url_routing(request, force_public=True)
            return None
        return super().process_request(request)

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        return HttpResponseNotFound("No clinic at this address.", content_type="text/plain")
