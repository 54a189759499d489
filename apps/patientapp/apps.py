from django.apps import AppConfig


class PatientAppConfig(AppConfig):
    name = "apps.patientapp"
    verbose_name = "Patient app"

    def ready(self) -> None:
        # Describes the patient token in the OpenAPI document.
        from apps.patientapp import openapi  # noqa: F401
