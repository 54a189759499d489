"""URLs of the public site (the base domain): landing, sign-up."""

from django.urls import path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerSplitView

from apps.clinic.language import visitor_language_choose
from apps.core.schemaview import SchemaApi
from apps.directory.views import DirectoryApi
from apps.plans.admin import operator_site
from apps.tenants.views import (
    CellOnboardingApi,
    CellVerifyEmailApi,
    OnboardingApi,
    signup,
    verify_email,
)
from mymedic.metrics import metrics

urlpatterns = [
    path("", RedirectView.as_view(url="/signup/"), name="home"),
    path("signup/", signup, name="signup"),
    path("language/", visitor_language_choose, name="visitor-language"),
    path("verify-email/<str:token>/", verify_email, name="verify-email"),
    path("api/v1/onboarding/", OnboardingApi.as_view(), name="api-onboarding"),
    path("api/v1/directory/<str:slug>/", DirectoryApi.as_view(), name="api-directory"),
    # Cell to cell only: the shared secret, and the edge never routes /internal/.
    path("internal/cells/onboarding/", CellOnboardingApi.as_view(), name="cell-onboarding"),
    path("internal/cells/verify-email/", CellVerifyEmailApi.as_view(), name="cell-verify-email"),
    path("metrics", metrics, name="metrics"),
    path("admin/", operator_site.urls),
    path("api/v1/schema/", SchemaApi.as_view(), name="api-schema"),
    path(
        "api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"
    ),
]

handler404 = "apps.core.api.not_found"
