"""The staff token in the OpenAPI document (the name DRF's own token scheme had)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from apps.core.openapi import token_header


class StaffTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.clinic.tokens.StaffTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return token_header(
            "`Token <key>` with a key from POST /api/v1/auth/token/. It expires "
            "when unused for MYMEDIC_TOKEN_IDLE_HOURS, at most MYMEDIC_TOKEN_MAX_DAYS after "
            "sign-in, on POST /api/v1/auth/logout/ and when the password changes."
        )
