"""The one rule for the times, dates and money people see.

Every time shown to a person is in the clinic's clock: the branch's time zone when a branch
applies, else the tenant's. Dates, times and amounts are written in one format per locale,
through Django's format machinery (`mymedic/formats/<locale>/formats.py`). Screens, the
receipt, the admin, exports and patient messages all come here; nothing formats a date or an
amount by hand.
"""

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import formats, timezone

CURRENCY_SYMBOLS = {"INR": "₹", "USD": "$", "EUR": "€", "GBP": "£", "AED": "AED ", "SGD": "S$"}
DEFAULT_TIMEZONE = "Asia/Kolkata"


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def tenant_timezone() -> str:
    """The time zone of the tenant whose schema is active (the clinic's clock)."""
    return str(getattr(getattr(connection, "tenant", None), "timezone", "") or DEFAULT_TIMEZONE)


def tenant_currency() -> str:
    return str(getattr(getattr(connection, "tenant", None), "currency", "") or "INR")


def timezone_of(branch: Any | None) -> str:
    """A branch's clock, or the tenant's when no branch applies."""
    return str(getattr(branch, "timezone", "") or tenant_timezone())


def timezone_for_staff(user: Any) -> str:
    """A staff member's clock: their one branch's, else the tenant's (owners, managers and
    staff of several branches read the chain in the tenant's time)."""
    if getattr(user, "is_authenticated", False) and not getattr(user, "sees_all_branches", True):
        zones = {b.timezone for b in user.branches.all()}
        if len(zones) == 1:
            return zones.pop()
    return tenant_timezone()


def in_zone(instant: datetime, zone_name: str | None = None) -> datetime:
    """`instant` on the wall clock of `zone_name` (the active clinic clock when None)."""
    return instant.astimezone(zone(zone_name) if zone_name else timezone.get_current_timezone())


def format_datetime(instant: datetime | None, zone_name: str | None = None) -> str:
    """e.g. "2 Dec 2026, 09:00 IST": the one date-and-time format, with the zone's name."""
    if instant is None:
        return ""
    return formats.date_format(in_zone(instant, zone_name), "DATETIME_FORMAT")


def format_date(day: date | datetime | None, zone_name: str | None = None) -> str:
    """e.g. "2 Dec 2026". A datetime is first put on the clinic's clock."""
    if day is None:
        return ""
    if isinstance(day, datetime):
        day = in_zone(day, zone_name)
    return formats.date_format(day, "DATE_FORMAT")


def format_month(day: date) -> str:
    """e.g. "Dec 2026"."""
    return formats.date_format(day, "YEAR_MONTH_FORMAT")


def format_time(instant: datetime | None, zone_name: str | None = None) -> str:
    """e.g. "09:00" on the clinic's clock."""
    if instant is None:
        return ""
    return formats.time_format(in_zone(instant, zone_name), "TIME_FORMAT")


def format_money(amount: Decimal | int | str | None, currency: str | None = None) -> str:
    """e.g. "₹12,34,567.50": two decimals, the locale's grouping, the currency's symbol."""
    if amount is None or amount == "":
        return ""
    value = Decimal(str(amount))
    code = currency or tenant_currency()
    number = formats.number_format(abs(value), 2, use_l10n=True, force_grouping=True)
    symbol = CURRENCY_SYMBOLS.get(code, f"{code} ")
    return f"{'−' if value < 0 else ''}{symbol}{number}"


class ClinicTimeMiddleware:
    """Puts each page request on the clinic's clock (the staff member's one branch, else the
    tenant's), so every date Django renders (templates, the admin's lists, filters and date
    drill-down) is in it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The API writes each instant with its branch's offset itself (API.md): its output
        # stays exactly as it was, whoever asks.
        if getattr(connection, "schema_name", "public") == "public" or request.path.startswith(
            "/api/"
        ):
            return self.get_response(request)
        timezone.activate(zone(timezone_for_staff(request.user)))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
