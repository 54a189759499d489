"""The patient token in the OpenAPI document."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PatientTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.patientapp.auth.PatientTokenAuthentication"
    name = "patientToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` with a key from POST /api/v1/patient/auth/token/ "
            "(patient endpoints only; staff tokens are refused there).",
        }
