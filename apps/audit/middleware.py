"""Every refused request (403) leaves an audit entry, whichever view refused it."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.audit.trail import record
from apps.core.db import connection


class AuditDenialsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 403 and connection.schema_name != "public":
            user = getattr(request, "user", None)
            actor = user if user is not None and user.is_authenticated else None
            record(
                "permission.denied", actor=actor, target=f"{request.method} {request.path}"[:120]
            )
        return response
