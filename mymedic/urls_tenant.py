"""URLs of a tenant host (`{slug}.{BASE_DOMAIN}`)."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerSplitView

from apps.audit.api import AuditVerifyApi
from apps.clinic.language import language_choose, visitor_language_choose
from apps.clinic.models import Role
from apps.clinic.permissions import ManagersOnly, roles
from apps.clinic.views import password_change
from apps.core.schemaview import SchemaApi
from apps.eventstore.api import EventListApi
from apps.plans.views import subscription_page
from apps.queue.urls import api_urlpatterns as queue_api

OWNERS = frozenset({Role.OWNER})

urlpatterns = [
    path("", RedirectView.as_view(url="/reception/"), name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SchemaApi.as_view(), name="api-schema"),
    path(
        "api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"
    ),
    path("api/v1/patient/", include("apps.patientapp.urls")),
    path("api/v1/", include("apps.clinic.urls")),
    path("api/v1/", include(queue_api)),
    path("api/v1/", include("apps.scheduling.urls")),
    path("api/v1/", include("apps.billing.urls")),
    path("", include("apps.settlements.urls")),
    path("api/v1/reconciliation/", include("apps.reconciliation.urls")),
    path("api/v1/notifications/", include("apps.notifications.urls")),
    path("api/v1/exports/", include("apps.exports.urls")),
    path("api/v1/", include("apps.plans.urls")),
    path("api/v1/integrations/hl7/", include("apps.integration.urls")),
    path(
        "api/v1/audit/verify/",
        AuditVerifyApi.as_view(permission_classes=[roles(read=OWNERS, write=OWNERS)]),
        name="api-audit-verify",
    ),
    path(
        "api/v1/events/",
        EventListApi.as_view(permission_classes=[ManagersOnly]),
        name="api-events",
    ),
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
