"""URLs of the public site (the base domain): landing, sign-up."""

from django.urls import path
from django.views.generic import RedirectView

from apps.tenants.views import OnboardingApi, signup
from mymedic.metrics import metrics

urlpatterns = [
    path("", RedirectView.as_view(url="/signup/"), name="home"),
    path("signup/", signup, name="signup"),
    path("api/v1/onboarding/", OnboardingApi.as_view(), name="api-onboarding"),
    path("metrics", metrics, name="metrics"),
]
