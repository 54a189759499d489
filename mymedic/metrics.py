"""`/metrics` (Prometheus text format): projection lag per tenant and projection."""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_tenants.utils import schema_context

from apps.core.replica import replica_metric_lines
from apps.core.tenancy import tenant_schemas
from apps.eventbus.relay import relay_lag_lines
from apps.eventstore.projections import lag
from apps.integration.selectors import queue_counts
from apps.tenants.commands import tenants_unrouted


def _allowed(request: HttpRequest) -> bool:
    """Only the bearer of MYMEDIC_METRICS_TOKEN. The caller's address proves nothing: behind a
    proxy on the same host every request comes from loopback."""
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), settings.MYMEDIC_METRICS_TOKEN.encode())


def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.MYMEDIC_METRICS_TOKEN:
        return HttpResponse("Not found\n", status=404, content_type="text/plain")
    if not _allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    lines = [
        "# HELP mymedic_projection_lag Events in the log not yet applied by the projection.",
        "# TYPE mymedic_projection_lag gauge",
    ]
    parked = [
        "# HELP mymedic_projection_parked 1 when the projection is parked on a failing event.",
        "# TYPE mymedic_projection_parked gauge",
    ]
    hl7 = [
        "# HELP mymedic_hl7_queue HL7 messages in the error queue (error, held, dead).",
        "# TYPE mymedic_hl7_queue gauge",
    ]
    for tenant in tenant_schemas():
        with schema_context(tenant.schema_name):
            for name, row in lag().items():
                labels = f'tenant="{tenant.slug}",projection="{name}"'
                lines.append(f"mymedic_projection_lag{{{labels}}} {row['lag']}")
                is_parked = int(row["status"] == "parked")
                parked.append(f"mymedic_projection_parked{{{labels}}} {is_parked}")
            for status, n in queue_counts().items():
                hl7.append(f'mymedic_hl7_queue{{tenant="{tenant.slug}",status="{status}"}} {n}')
    if settings.MYMEDIC_EVENT_BUS:
        parked += relay_lag_lines()
    unrouted = [
        "# HELP mymedic_tenants_unrouted Tenants of this cell the directory does not know.",
        "# TYPE mymedic_tenants_unrouted gauge",
        f"mymedic_tenants_unrouted {len(tenants_unrouted())}",
    ]
    unrouted += replica_metric_lines()
    body = "\n".join(lines + parked + hl7 + unrouted) + "\n"
    return HttpResponse(body, content_type="text/plain; version=0.0.4")
