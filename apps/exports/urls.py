from django.urls import path

from apps.exports import api

urlpatterns = [
    path("", api.ExportListApi.as_view(), name="api-exports"),
    path("<int:pk>/", api.ExportDetailApi.as_view(), name="api-export"),
    path("<int:pk>/download/", api.ExportDownloadApi.as_view(), name="api-export-download"),
]
