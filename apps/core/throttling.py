"""Per-user and per-address API throttles whose rates come from settings when they run."""

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class UserThrottle(UserRateThrottle):
    def get_rate(self) -> str:
        return str(settings.MYMEDIC_API_USER_RATE)


class AnonThrottle(AnonRateThrottle):
    def get_rate(self) -> str:
        return str(settings.MYMEDIC_API_ANON_RATE)
