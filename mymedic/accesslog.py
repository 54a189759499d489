"""The access log: one line per request, without the query string.

Query strings can carry personal data (a phone number typed into a search, by a client of
the v1 API's `GET /patients/?phone=`), so daphne's own access log, which prints the whole
URI, is switched off (`--access-log /dev/null` in the Procfile) and this one is written
instead: method, path, status, milliseconds and the client's address as `client_address`
sees it.
"""

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.core.clientip import client_address

logger = logging.getLogger("mymedic.access")


class AccessLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        logger.info(
            "%s %s %s %.1fms %s",
            request.method,
            request.path,  # never the query string
            response.status_code,
            (time.perf_counter() - started) * 1000,
            client_address(request),
        )
        return response
