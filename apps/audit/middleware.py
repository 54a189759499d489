"""Every refused request (403) is recorded, whichever view refused it.

A signed-in caller's refusal is an audit entry (who tried what). An anonymous refusal names
nobody, and appending it to the chain would take the tenant's write lock for every hostile
request; it is a line in the security log instead, at most MYMEDIC_DENIAL_LOG_PER_MINUTE per
address and minute, so a flood cannot flood the log either.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from apps.audit.trail import record
from apps.core.clientip import client_address
from apps.core.counters import take
from apps.core.db import connection

security_log = logging.getLogger("mymedic.security")


def _log_anonymous_denial(request: HttpRequest) -> None:
    address = client_address(request)
    key = f"denials-logged:{address}"
    if take(key, 60) > settings.MYMEDIC_DENIAL_LOG_PER_MINUTE:
        return
    security_log.warning(
        "anonymous request refused: %s %s from %s",
        request.method,
        request.path[:120],
        address,
    )


class AuditDenialsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 403 and connection.schema_name != "public":
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                record(
                    "permission.denied", actor=user, target=f"{request.method} {request.path}"[:120]
                )
            else:
                _log_anonymous_denial(request)
        return response
