"""Where a change came from: request, correlation and causation ids for event metadata.

Set once per request (or task) and read when an event is appended, so commands need not
thread these ids through every call.
"""

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

from django.http import HttpRequest, HttpResponse


@dataclass(frozen=True)
class Origin:
    request_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    # For the audit trail only; never copied into event metadata.
    client_ip: str | None = None


_origin: ContextVar[Origin] = ContextVar("event_origin", default=Origin())  # noqa: B039  (frozen)


def current_origin() -> Origin:
    return _origin.get()


@contextmanager
def origin(**ids: str | None) -> Iterator[Origin]:
    """Runs the block with these ids (others kept) in every event it appends."""
    token = _origin.set(replace(_origin.get(), **ids))
    try:
        yield _origin.get()
    finally:
        _origin.reset(token)


def _header_id(request: HttpRequest, name: str) -> str | None:
    # From META, not `request.headers`: building that mapping of every header costs more than
    # the rest of this middleware, and most requests never ask for it.
    value = str(request.META.get("HTTP_" + name.upper().replace("-", "_"), "")).strip()
    # Ids from outside are kept only when short and printable: they end up in the log.
    if value and len(value) <= 64 and value.isprintable():
        return value
    return None


class RequestOriginMiddleware:
    """Gives every request an id (or keeps the caller's) and echoes it in `X-Request-ID`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _header_id(request, "X-Request-ID") or uuid.uuid4().hex
        correlation_id = _header_id(request, "X-Correlation-ID") or request_id
        ids = {"request_id": request_id, "correlation_id": correlation_id}
        with origin(**ids, causation_id=request_id, client_ip=request.META.get("REMOTE_ADDR")):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
