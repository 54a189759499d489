"""Request routing by host: health checks, the public site and tenants."""

import logging
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django_tenants.middleware.main import TenantMainMiddleware

from apps.core.db import connection
from apps.core.errors import TenantMoving
from apps.core.shortlived import ShortLived
from apps.directory.selectors import location_of
from apps.tenants.models import Domain, Tenant
from mymedic.health import healthz

HEALTH_PATH = "/healthz"

logger = logging.getLogger(__name__)

# Host → tenant, kept at most a second per process (apps/core/shortlived.py): a removed
# domain or a deleted or moved tenant stops being served everywhere within that second.
_tenants_by_host: ShortLived[Tenant] = ShortLived("tenants by host")


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
            return unknown_host(request)
        if hostname == settings.BASE_DOMAIN:
            request.tenant = connection.tenant  # type: ignore[attr-defined]
            self.setup_url_routing(request, force_public=True)
            return None
        # django-tenants' own steps from here, without its second switch to `public` and with
        # the tenant kept for a second (the rest of a warm API read costs about as much).
        tenant = _tenants_by_host.get(hostname, partial(_tenant_of, hostname))
        if tenant is None:
            return self.no_tenant_found(request, hostname)
        tenant.domain_url = hostname
        request.tenant = tenant  # type: ignore[attr-defined]
        connection.set_tenant(tenant)
        self.setup_url_routing(request)
        return None

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        if served_by_another_cell(hostname):
            return being_routed(request)
        return unknown_host(request)


class TenantMovingMiddleware:
    """A tenant paused for a move to another cell refuses writes and audited reads
    (`apps.core.errors.TenantMoving`); pages and API views that do not catch it answer 503
    with Retry-After, in the API's error format under /api/, instead of a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, TenantMoving):
            return None
        if request.path_info.startswith("/api/"):
            response: HttpResponse = JsonResponse(exception.as_dict(), status=503)
        else:
            response = HttpResponse(exception.message, status=503, content_type="text/plain")
        response["Retry-After"] = str(exception.retry_after)
        return response


def _tenant_of(hostname: str) -> Tenant | None:
    domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    return domain.tenant if domain else None


def served_by_another_cell(hostname: str) -> bool:
    """Whether the directory places this host's tenant in another cell. The edge sends a host
    that its map does not name yet (for the moment between a sign-up, or a move, and its
    reload) to the directory's cell, which must not call a real clinic unknown. Only a
    `{slug}.{BASE_DOMAIN}` host is looked up (by the slug's unique index), and only when
    there is more than one cell; a directory that cannot answer leaves the 404."""
    if len(settings.MYMEDIC_CELLS) < 2:
        return False
    slug, dot, base = hostname.partition(".")
    if not dot or base != settings.BASE_DOMAIN:
        return False
    try:
        location = location_of(slug)
    except DatabaseError:
        logger.warning("directory unreachable while routing host %s", hostname)
        return False
    return (
        location is not None
        and location.cell != settings.MYMEDIC_CELL
        and hostname in location.hosts
    )


def being_routed(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: the clinic exists in another cell and the edge is about to route
    its host there (it reloads within about a second of the directory's change)."""
    message = "This clinic's address is being set up. Please retry in a second."
    if request.path_info.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": message}, status=503)
    else:
        response = HttpResponse(message, status=503, content_type="text/plain")
    response["Retry-After"] = "1"
    return response


def unknown_host(request: HttpRequest) -> HttpResponse:
    """404 for a host that names no clinic (often a mistyped address): JSON for the API,
    otherwise a page that links to the public site."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": "No clinic at this address."}, status=404)
    _, colon, port = str(request.META.get("HTTP_HOST", "")).rpartition(":")
    public = f"{request.scheme}://{settings.BASE_DOMAIN}"
    if colon and port.isdigit() and port not in ("80", "443"):
        public += f":{port}"
    context = {"public_url": public + "/", "base_domain": settings.BASE_DOMAIN}
    html = render_to_string("unknown_host.html", context)
    return HttpResponse(html, status=404)
