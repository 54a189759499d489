"""The weekly hours grid: per weekday up to `INTERVALS_PER_DAY` from–to intervals (so a
lunch break is two intervals), read into and out of the doctors' `weekly_hours` list."""

from collections.abc import Iterator, Mapping
from datetime import time
from typing import Any

from django import forms
from django.forms.boundfield import BoundField
from django.utils.translation import gettext, gettext_lazy

WEEKDAYS = [
    (0, "mon", gettext_lazy("Monday")),
    (1, "tue", gettext_lazy("Tuesday")),
    (2, "wed", gettext_lazy("Wednesday")),
    (3, "thu", gettext_lazy("Thursday")),
    (4, "fri", gettext_lazy("Friday")),
    (5, "sat", gettext_lazy("Saturday")),
    (6, "sun", gettext_lazy("Sunday")),
]
INTERVALS_PER_DAY = 3
# Copy Monday's intervals to these days ("copy" buttons of the grid).
COPY_TARGETS = {
    "weekdays": ["tue", "wed", "thu", "fri", "sat"],
    "all": ["tue", "wed", "thu", "fri", "sat", "sun"],
}


def _name(day: str, n: int, edge: str) -> str:
    return f"hours_{day}_{n}_{edge}"


def grid_initial(weekly_hours: list[dict[str, Any]]) -> dict[str, str]:
    initial: dict[str, str] = {}
    used: dict[int, int] = {}
    for interval in weekly_hours:
        weekday = interval["weekday"]
        n = used.get(weekday, 0) + 1
        used[weekday] = n
        if n > INTERVALS_PER_DAY:
            continue
        day = WEEKDAYS[weekday][1]
        initial[_name(day, n, "start")] = interval["start"]
        initial[_name(day, n, "end")] = interval["end"]
    return initial


def copy_monday(data: Mapping[str, Any], target: str) -> dict[str, Any]:
    """The submitted values with Monday's intervals copied to the `target` days."""
    copied = {key: data.get(key) for key in data}
    for day in COPY_TARGETS.get(target, []):
        for n in range(1, INTERVALS_PER_DAY + 1):
            for edge in ("start", "end"):
                copied[_name(day, n, edge)] = data.get(_name("mon", n, edge), "")
    return copied


class WeeklyHoursForm(forms.Form):
    """Validates the grid: both ends given, start before end, no overlap within a day."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Made per request, so in the member's language ("Monday from", "सोमवार से").
        edges = (("start", gettext("%(day)s from")), ("end", gettext("%(day)s to")))
        for _, day, label in WEEKDAYS:
            for n in range(1, INTERVALS_PER_DAY + 1):
                for edge, word in edges:
                    self.fields[_name(day, n, edge)] = forms.TimeField(
                        label=word % {"day": label} + (f" ({n})" if n > 1 else ""),
                        required=False,
                        input_formats=["%H:%M", "%H:%M:%S"],
                        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
                    )

    def rows(self) -> Iterator[tuple[str, str, list[tuple[BoundField, BoundField]]]]:
        for _, day, label in WEEKDAYS:
            pairs = [
                (self[_name(day, n, "start")], self[_name(day, n, "end")])
                for n in range(1, INTERVALS_PER_DAY + 1)
            ]
            yield day, str(label), pairs

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        hours: list[dict[str, Any]] = []
        for weekday, day, label in WEEKDAYS:
            intervals: list[tuple[time, time, int]] = []
            for n in range(1, INTERVALS_PER_DAY + 1):
                start_name, end_name = _name(day, n, "start"), _name(day, n, "end")
                if start_name in self.errors or end_name in self.errors:
                    continue
                start, end = cleaned.get(start_name), cleaned.get(end_name)
                if start is None and end is None:
                    continue
                if start is None:
                    problem = gettext("%(day)s: give the time this interval starts.")
                    self.add_error(start_name, problem % {"day": label})
                elif end is None:
                    problem = gettext("%(day)s: give the time this interval ends.")
                    self.add_error(end_name, problem % {"day": label})
                elif end <= start:
                    problem = gettext("%(day)s: the end must be after the start.")
                    self.add_error(end_name, problem % {"day": label})
                else:
                    intervals.append((start, end, n))
            intervals.sort()
            for (_, end_a, _), (start_b, _, n) in zip(intervals, intervals[1:], strict=False):
                if start_b < end_a:
                    self.add_error(
                        _name(day, n, "start"),
                        gettext("%(day)s: this interval overlaps another one.") % {"day": label},
                    )
            hours.extend(
                {"weekday": weekday, "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
                for start, end, _ in intervals
            )
        cleaned["weekly_hours"] = hours
        return cleaned
