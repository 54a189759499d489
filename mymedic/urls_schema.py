"""Every API route of both hosts, for the OpenAPI document only."""

from django.urls import URLPattern, URLResolver, path

from apps.directory.views import DirectoryApi
from apps.tenants.views import OnboardingApi
from mymedic.urls_tenant import urlpatterns as tenant_urlpatterns

urlpatterns = [
    path("api/v1/onboarding/", OnboardingApi.as_view()),
    path("api/v1/directory/<str:slug>/", DirectoryApi.as_view()),
    *[
        p
        for p in tenant_urlpatterns
        if isinstance(p, URLPattern | URLResolver) and str(p.pattern).startswith("api/v1/")
    ],
]
