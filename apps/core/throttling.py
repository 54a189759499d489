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
from apps.core.counters import BatchedCounts, counting_cache


class ClientAddressIdent(BaseThrottle):
    cache: Any = counting_cache

    def get_ident(self, request: Request) -> str:
        return client_address(request._request)


# The per-user counts of this process, added to Redis in batches (apps/core/counters.py).
user_counts = BatchedCounts()


class UserThrottle(ClientAddressIdent, UserRateThrottle):
    """Every signed-in API request pays this one, so it keeps one counter per user and
    window, where DRF keeps the time of every request in the window and reads and rewrites
    that whole list on each request (at 1,200 a minute, 1,200 timestamps each way). A busy
    user's requests are added to the counter in batches of a hundredth of the limit, at least
    once a second, and one by one near the limit (`BatchedCounts`: at most 1 % of the limit
    over it per web process). The window is fixed, as the sign-in lock-outs' are: a caller may
    use up one window at its end and the next at its start."""

    def get_rate(self) -> str:
        return str(settings.MYMEDIC_API_USER_RATE)

    def allow_request(self, request: Request, view: Any) -> bool:
        limit, seconds = self.parse_rate(self.rate)
        self.key = self.get_cache_key(request, view)
        if self.key is None or limit is None or seconds is None:
            return True
        return user_counts.admit(self.key, seconds, limit)

    def wait(self) -> float | None:
        _, seconds = self.parse_rate(self.rate)
        return (counting_cache.ttl(self.key) if self.key else None) or seconds


class AnonThrottle(ClientAddressIdent, AnonRateThrottle):
    def get_rate(self) -> str:
        return str(settings.MYMEDIC_API_ANON_RATE)
