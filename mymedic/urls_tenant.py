"""URLs of a tenant host (`{slug}.{BASE_DOMAIN}`)."""

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerSplitView

from apps.audit.api import AuditVerifyApi
from apps.clinic.language import language_choose, visitor_language_choose
from apps.clinic.models import Role
from apps.clinic.permissions import ManagersOnly, roles
from apps.clinic.views import password_change
from apps.core.routes import remembered
from apps.core.schemaview import SchemaApi
from apps.eventstore.api import EventListApi
from apps.plans.views import subscription_page
from apps.queue.urls import api_urlpatterns as queue_api

OWNERS = frozenset({Role.OWNER})

# Every route under /api/v1/ but the settlements' (below, outside the OpenAPI document as
# before), first and found once per path and process (apps/core/routes.py): a warm API read
# does not walk the console's patterns, and a path seen before is not walked at all. No
# pattern that came before these in this list matches a path under /api/v1/, and the
# settlements' share no path with the ones after them, so every path reaches the view it did.
api_urlpatterns: list[URLPattern | URLResolver] = [
    path("schema/", SchemaApi.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("patient/", include("apps.patientapp.urls")),
    path("", include("apps.clinic.urls")),
    path("", include(queue_api)),
    path("", include("apps.scheduling.urls")),
    path("", include("apps.billing.urls")),
    path("reconciliation/", include("apps.reconciliation.urls")),
    path("notifications/", include("apps.notifications.urls")),
    path("exports/", include("apps.exports.urls")),
    path("", include("apps.plans.urls")),
    path("integrations/hl7/", include("apps.integration.urls")),
    path(
        "audit/verify/",
        AuditVerifyApi.as_view(permission_classes=[roles(read=OWNERS, write=OWNERS)]),
        name="api-audit-verify",
    ),
    path(
        "events/",
        EventListApi.as_view(permission_classes=[ManagersOnly]),
        name="api-events",
    ),
]

urlpatterns = [
    remembered("api/v1/", api_urlpatterns),
    path("", RedirectView.as_view(url="/reception/"), name="home"),
    path("admin/", admin.site.urls),
    path("", include("apps.settlements.urls")),
    path("fhir/R4/", include("apps.fhir.urls")),
    path("account/password/", password_change, name="account-password"),
    path("account/subscription/", subscription_page, name="account-subscription"),
    path("account/language/", language_choose, name="account-language"),
    path("language/", visitor_language_choose, name="visitor-language"),
    path("", include("apps.reception.urls")),
    path("", include("apps.setup.urls")),
    path("", include("apps.queue.urls")),
]

handler404 = "apps.core.api.not_found"
