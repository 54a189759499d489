"""FHIR search parameters as we take them: parsing is strict, so a parameter we do not know
or a value we cannot read is a 400 OperationOutcome, never a silently wider answer.

Dates follow FHIR's rules: a value is a range at its precision (`2027-01-05` is that whole
local day on each branch's clock; an instant with its offset is that second) and the prefix
compares the visit's start with the range (`ge`, `le`, `gt`, `lt`, `eq`, the default).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q

from apps.core.dates import date_problem, instant_problem
from apps.core.errors import InvalidInput

# Accepted on every search, whatever the type.
COMMON = frozenset({"_count", "_offset", "_format"})
DEFAULT_COUNT = 50
MAX_COUNT = 200
FORMATS = frozenset({"json", "application/json", "application/fhir+json"})

_DATE = re.compile(r"^(?P<prefix>eq|ne|gt|lt|ge|le|sa|eb|ap)?(?P<value>\d{4}(-\d{2}(-\d{2})?)?)$")
_INSTANT = re.compile(
    r"^(?P<prefix>eq|ne|gt|lt|ge|le|sa|eb|ap)?"
    r"(?P<value>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))$"
)
SUPPORTED_PREFIXES = frozenset({"eq", "gt", "lt", "ge", "le"})


def bad(message: str, parameter: str) -> InvalidInput:
    return InvalidInput(message, field=parameter)


def single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise bad(f"Give `{name}` once.", name)
    return values[0]


def check_known(params: dict[str, list[str]], allowed: Iterable[str]) -> None:
    known = COMMON | set(allowed)
    for name in params:
        if name not in known:
            raise bad(f"Unknown search parameter `{name}`.", name)
    fmt = single(params, "_format")
    if fmt is not None and fmt not in FORMATS:
        raise bad("Only JSON is served (`_format=json`).", "_format")


def page(params: dict[str, list[str]], largest: int = MAX_COUNT) -> tuple[int, int]:
    """(count, offset) of the page asked for; `_count` above `largest` is cut to it."""
    count, offset = DEFAULT_COUNT if largest >= DEFAULT_COUNT else largest, 0
    if (raw := single(params, "_count")) is not None:
        count = min(_natural(raw, "_count"), largest)
    if (raw := single(params, "_offset")) is not None:
        offset = _natural(raw, "_offset")
    return count, offset


def _natural(raw: str, name: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise bad(f"`{name}` is a whole number.", name)
    return int(raw)


def any_of(raw: str) -> list[str]:
    """A comma-separated list of alternatives (FHIR's OR)."""
    return raw.split(",")


def reference_ids(params: dict[str, list[str]], name: str, resource_type: str) -> list[int] | None:
    """The ids of `name=Type/12,Type/13` (or bare `12`); None when the parameter is absent.
    Several occurrences AND together: only ids in every one remain."""
    values = params.get(name)
    if not values:
        return None
    found: set[int] | None = None
    for raw in values:
        ids = {_reference_id(item, name, resource_type) for item in any_of(raw)}
        found = ids if found is None else found & ids
    return sorted(found or ())


def _reference_id(item: str, name: str, resource_type: str) -> int:
    prefix = f"{resource_type}/"
    plain = item[len(prefix) :] if item.startswith(prefix) else item
    if not (plain.isascii() and plain.isdigit()) or len(plain) > 18:
        raise bad(f"`{name}` takes a reference like `{resource_type}/12`.", name)
    return int(plain)


def tokens(params: dict[str, list[str]], name: str, allowed: Iterable[str]) -> list[str] | None:
    """The codes of `name=a,b` among `allowed`; None when absent."""
    raw = single(params, name)
    if raw is None:
        return None
    codes = any_of(raw)
    allowed = set(allowed)
    for code in codes:
        if code not in allowed:
            raise bad(f"`{name}` is one of {', '.join(sorted(allowed))}.", name)
    return codes


@dataclass(frozen=True)
class DateBound:
    """One `date=`/`start=` value: a prefix and a range at the value's precision."""

    prefix: str
    text: str
    instant: datetime | None  # set for a value with a time (and its offset)

    def window(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The value's range [lo, hi) on `zone`'s clock (an instant ignores the zone)."""
        if self.instant is not None:
            return self.instant, self.instant + timedelta(seconds=1)
        parts = [int(part) for part in self.text.split("-")]
        first = date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
        if len(parts) == 3:
            after = first + timedelta(days=1)
        elif len(parts) == 2:
            after = (first + timedelta(days=32)).replace(day=1)
        else:
            after = first.replace(year=first.year + 1)
        return (
            datetime.combine(first, time(), tzinfo=zone),
            datetime.combine(after, time(), tzinfo=zone),
        )

    def condition(self, field: str, zone: ZoneInfo) -> Q:
        lo, hi = self.window(zone)
        return {
            "eq": Q(**{f"{field}__gte": lo, f"{field}__lt": hi}),
            "gt": Q(**{f"{field}__gte": hi}),
            "ge": Q(**{f"{field}__gte": lo}),
            "lt": Q(**{f"{field}__lt": lo}),
            "le": Q(**{f"{field}__lt": hi}),
        }[self.prefix]

    def matches(self, instant: datetime, zone: ZoneInfo) -> bool:
        lo, hi = self.window(zone)
        return {
            "eq": lo <= instant < hi,
            "gt": instant >= hi,
            "ge": instant >= lo,
            "lt": instant < lo,
            "le": instant < hi,
        }[self.prefix]


def date_bounds(params: dict[str, list[str]], name: str) -> list[DateBound]:
    """Every `name=` value (several AND together)."""
    return [_date_bound(raw, name) for raw in params.get(name, [])]


def _date_bound(raw: str, name: str) -> DateBound:
    raw = raw.replace(" ", "+")  # an offset's `+` sent unencoded arrives as a space
    shape = _DATE.match(raw) or _INSTANT.match(raw)
    if shape is None:
        raise bad(
            f"`{name}` takes a date (`2027-01-05`) or an instant with its offset, "
            "optionally after a prefix (`ge2027-01-05`).",
            name,
        )
    prefix, text = shape["prefix"] or "eq", shape["value"]
    if prefix not in SUPPORTED_PREFIXES:
        raise bad(f"`{name}` takes the prefixes eq, gt, ge, lt and le.", name)
    instant = None
    try:
        if "T" in text:
            instant = datetime.fromisoformat(text)
            problem = instant_problem(instant)
        else:
            parts = [int(part) for part in text.split("-")]
            problem = date_problem(
                date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
            )
    except ValueError as exc:
        raise bad(f"`{name}` is not a real date.", name) from exc
    if problem:
        raise bad(problem, name)
    return DateBound(prefix, text, instant)


def within(bounds: list[DateBound], field: str, zones: Iterable[str]) -> Q:
    """Rows whose `field` meets every bound, each row on its branch's clock (`zones` are the
    time zones of the branches in play, matched on `branch__timezone`)."""
    windows = Q(pk__in=[])
    for name in set(zones):
        zone = ZoneInfo(name)
        condition = Q(branch__timezone=name)
        for bound in bounds:
            condition &= bound.condition(field, zone)
        windows |= condition
    return windows


def instant(raw: str | None, name: str) -> datetime | None:
    """An instant with its offset and no prefix (`_since`); None when absent."""
    if raw is None:
        return None
    text = raw.replace(" ", "+")
    shape = _INSTANT.match(text)
    if shape is None or shape["prefix"]:
        raise bad(f"`{name}` is an instant with its offset, e.g. 2027-01-04T10:00:00+05:30.", name)
    return _date_bound(text, name).instant
