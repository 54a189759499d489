"""Per-user and per-address API throttles whose rates come from settings when they run.

Every per-address throttle names the caller by `client_address`, never by DRF's own
reading of X-Forwarded-For (which believes any client). Every throttle counts through
`counting_cache`: while Redis is unreachable each process counts in its own memory instead
of failing the request."""

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, BaseThrottle, UserRateThrottle

from apps.core.clientip import client_address
from apps.core.counters import counting_cache


class ClientAddressIdent(BaseThrottle):
    cache: Any = counting_cache

    def get_ident(self, request: Request) -> str:
        return client_address(request._request)


class UserThrottle(ClientAddressIdent, UserRateThrottle):
    def get_rate(self) -> str:
        return str(settings.MYMEDIC_API_USER_RATE)


class AnonThrottle(ClientAddressIdent, AnonRateThrottle):
    def get_rate(self) -> str:
        return str(settings.MYMEDIC_API_ANON_RATE)
