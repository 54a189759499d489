"""URLs of the public site (the base domain): landing, sign-up."""

from django.urls import path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerSplitView

from apps.core.schemaview import SchemaApi
from apps.tenants.views import OnboardingApi, signup, verify_email
from mymedic.metrics import metrics

urlpatterns = [
    path("", RedirectView.as_view(url="/signup/"), name="home"),
    path("signup/", signup, name="signup"),
    path("verify-email/<str:token>/", verify_email, name="verify-email"),
    path("api/v1/onboarding/", OnboardingApi.as_view(), name="api-onboarding"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/schema/", SchemaApi.as_view(), name="api-schema"),
    path(
        "api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"
    ),
]

handler404 = "apps.core.api.not_found"
