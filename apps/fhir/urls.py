from django.urls import path, re_path

from apps.fhir import api

TYPES = "Patient|Practitioner|Location|Schedule|Slot|Appointment|Encounter"
READABLE = f"{TYPES}|Organization"

urlpatterns = [
    path("metadata", api.CapabilityApi.as_view(), name="fhir-metadata"),
    path("$export", api.ExportKickOffApi.as_view(), name="fhir-export"),
    path("$export/<uuid:uid>", api.ExportStatusApi.as_view(), name="fhir-export-status"),
    re_path(
        rf"^\$export/(?P<uid>[0-9a-f-]{{36}})/(?P<resource_type>{TYPES})\.ndjson$",
        api.ExportFileApi.as_view(),
        name="fhir-export-file",
    ),
    path("Encounter/<str:pk>/$document", api.EncounterDocumentApi.as_view(), name="fhir-document"),
    re_path(rf"^(?P<resource_type>{TYPES})$", api.SearchApi.as_view(), name="fhir-search"),
    re_path(
        rf"^(?P<resource_type>{READABLE})/(?P<pk>[^/]+)$", api.ReadApi.as_view(), name="fhir-read"
    ),
    re_path(r"^(?P<rest>.*)$", api.UnknownApi.as_view(), name="fhir-unknown"),
]
