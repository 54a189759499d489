"""How people read dates and times in scheduling's messages and pages: the one rule of
`apps.core.clinictime` (the branch's clock, the locale's date format), with the weekday in
front where a day is named on its own.

Machines get ISO 8601 (`local_iso`); people get "Wed 2 Dec 2026" and "10:30".
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.utils import formats
from django.utils.translation import gettext

from apps.core import clinictime


def human_date(day: date) -> str:
    return f"{formats.date_format(day, 'D')} {clinictime.format_date(day)}"


def human_time(instant: datetime, zone: str) -> str:
    return clinictime.format_time(instant, zone)


def human_clock(instant: datetime, zone: str) -> str:
    """A time to the second, for "updated 10:42:05"."""
    return clinictime.in_zone(instant, zone).strftime("%H:%M:%S")


def human_when(instant: datetime, zone: str) -> str:
    """ "Wed 2 Dec 2026 at 10:30" on the branch's clock."""
    return gettext("%(day)s at %(time)s") % {
        "day": human_date(clinictime.in_zone(instant, zone).date()),
        "time": human_time(instant, zone),
    }


def local_iso(instant: datetime, zone_name: str) -> str:
    """An instant as ISO 8601 with the branch's offset, e.g. 2026-12-01T09:00:00+05:30."""
    return instant.astimezone(ZoneInfo(zone_name)).isoformat()
