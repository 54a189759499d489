"""When a reminder is due, DST-correct.

The rule: an offset of whole days ("24 h before", "48 h before") means *the same time on the
branch's wall clock that many days earlier*: an appointment at 09:00 on the Monday after a
clock change is reminded at 09:00 on the Sunday, which is 23 or 25 real hours before. That
is what a patient expects from "the day before". Any other offset ("2 h before") is elapsed
time, computed on UTC instants, so it is always exactly that long before.

A wall-clock time that does not exist (skipped by a spring-forward) is moved forward by the
gap (02:30 → 03:30); one that happens twice (autumn) is the first of the two. Both follow
from reading the local time with `fold=0`.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60


def wall_clock_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant a naive local time names in `zone` (gap → later, overlap → earlier)."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def reminder_due(start: datetime, offset_minutes: int, zone: ZoneInfo) -> datetime:
    days, rest = divmod(offset_minutes, MINUTES_PER_DAY)
    if rest == 0:
        local = start.astimezone(zone).replace(tzinfo=None)
        return wall_clock_instant(local - timedelta(days=days), zone)
    # On UTC: Python subtracts from an aware local time on its wall clock, offset unchanged.
    return start.astimezone(UTC) - timedelta(minutes=offset_minutes)
