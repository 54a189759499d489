"""URLs of a tenant host (`{slug}.{BASE_DOMAIN}`)."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/reception/"), name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("apps.clinic.urls")),
    path("", include("apps.reception.urls")),
]
