"""The patient token in the OpenAPI document."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from apps.core.openapi import token_header


class PatientTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.patientapp.auth.PatientTokenAuthentication"
    name = "patientToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return token_header(
            "`Token <key>` with a key from POST /api/v1/patient/auth/token/ "
            "(patient endpoints only; staff tokens are refused there)."
        )
