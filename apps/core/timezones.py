"""IANA time zone names, as tenants and branches give them."""

import zoneinfo
from functools import lru_cache

from django.core.exceptions import ValidationError


@lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_problem(name: str) -> str | None:
    """Why `name` is not a time zone we accept, or None."""
    if name not in known_timezones():
        return f"Unknown time zone “{name}”. Use an IANA name such as Asia/Kolkata."
    return None


def validate_timezone(name: str) -> None:
    """Model field validator form of `timezone_problem`."""
    if problem := timezone_problem(name):
        raise ValidationError(problem)
