"""How people read dates and times: one format, in the branch's time zone.

Machines get ISO 8601 (`serializers.local_iso`); people get "Wed 2 Dec 2026" and "10:30".
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo


def human_date(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def human_time(instant: datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%H:%M")


def human_clock(instant: datetime, zone: str) -> str:
    """A time to the second, for "updated 10:42:05"."""
    return instant.astimezone(ZoneInfo(zone)).strftime("%H:%M:%S")


def human_when(instant: datetime, zone: str) -> str:
    """ "Wed 2 Dec 2026 at 10:30" in the branch's time zone."""
    local = instant.astimezone(ZoneInfo(zone))
    return f"{human_date(local.date())} at {local:%H:%M}"
