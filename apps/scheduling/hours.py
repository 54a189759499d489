"""Weekly working hours: parsing, validation and the local-time arithmetic of a day."""

from datetime import UTC, date, datetime, time, tzinfo
from typing import Any, TypedDict

from apps.core.errors import InvalidInput


class HoursInterval(TypedDict):
    weekday: int
    start: str
    end: str


def _parse_time(value: Any, where: str) -> time:
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{where}: use HH:MM, e.g. 09:30.", field="weekly_hours") from exc


def normalize_weekly_hours(raw: Any) -> list[HoursInterval]:
    """Checks and sorts weekly hours; refuses overlaps so breaks are unambiguous."""
    if not isinstance(raw, list):
        raise InvalidInput("Give a list of {weekday, start, end}.", field="weekly_hours")
    intervals: list[tuple[int, time, time]] = []
    for index, item in enumerate(raw):
        where = f"Interval {index + 1}"
        if not isinstance(item, dict) or set(item) - {"weekday", "start", "end"}:
            raise InvalidInput(f"{where}: give weekday, start and end.", field="weekly_hours")
        weekday = item.get("weekday")
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
            raise InvalidInput(
                f"{where}: weekday is 0 (Monday) to 6 (Sunday).", field="weekly_hours"
            )
        start, end = _parse_time(item.get("start"), where), _parse_time(item.get("end"), where)
        if end <= start:
            raise InvalidInput(f"{where}: end must be after start.", field="weekly_hours")
        intervals.append((weekday, start, end))
    intervals.sort()
    for (day_a, _, end_a), (day_b, start_b, _) in zip(intervals, intervals[1:], strict=False):
        if day_a == day_b and start_b < end_a:
            raise InvalidInput("Intervals of one weekday overlap.", field="weekly_hours")
    return [
        {"weekday": day, "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
        for day, start, end in intervals
    ]


def wall_clock_instant(day: date, at: time, zone: tzinfo) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `zone`.

    A time inside a spring-forward gap lands just after it; in an autumn overlap the earlier
    instant is taken (zoneinfo's fold=0).
    """
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def day_intervals(
    weekly_hours: list[HoursInterval], day: date, zone: tzinfo
) -> list[tuple[datetime, datetime]]:
    """The working intervals of `day` as UTC instants: real durations, DST included."""
    intervals = []
    for interval in weekly_hours:
        if interval["weekday"] != day.weekday():
            continue
        start = wall_clock_instant(day, _parse_time(interval["start"], "start"), zone)
        end = wall_clock_instant(day, _parse_time(interval["end"], "end"), zone)
        if end > start:
            intervals.append((start, end))
    return intervals
