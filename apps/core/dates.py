"""The one home of date, time and amount bounds for input from outside.

Python's dates run from year 1 to 9999, so the first and last days of that range overflow
as soon as anything adds a day or a time zone offset to them (a 500). Every date and instant
a caller sends passes through here and must fall in [EARLIEST, LATEST]: far wider than any
clinic needs, far from the edges. Amounts are capped to what the money columns hold.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_noop
from rest_framework import serializers

EARLIEST = date(1900, 1, 1)
LATEST = date(2200, 12, 31)
# Money columns are numeric(12, 2): ten digits before the point.
LARGEST_AMOUNT = Decimal("9999999999.99")
T = TypeVar("T", date, datetime)

# Wordings with their parts named, so a page can show them in its language (the settlements
# file's per-line problems, `apps.settlements.problems`); the text given here is English.
OUT_OF_RANGE_WORDING = gettext_noop("Give a date between %(earliest)s and %(latest)s.")
OUT_OF_RANGE = OUT_OF_RANGE_WORDING % {
    "earliest": EARLIEST.isoformat(),
    "latest": LATEST.isoformat(),
}
FORMAT_WORDING = gettext_noop("Use the format %(shape)s.")
AMOUNT_TOO_LARGE = f"Give an amount of at most {LARGEST_AMOUNT}."


class OutOfRange(ValueError):
    """A well-formed date or instant outside [EARLIEST, LATEST]; its text is for people."""


def date_problem(day: date) -> str | None:
    """Why `day` is out of range, or None."""
    return OUT_OF_RANGE if not EARLIEST <= day <= LATEST else None


def instant_problem(instant: datetime) -> str | None:
    if problem := date_problem(instant.date()):
        return problem
    return date_problem(instant.astimezone(UTC).date()) if instant.tzinfo else None


def _parse(
    value: Any, fromisoformat: Callable[[str], T], shape: str, problem_of: Callable[[T], str | None]
) -> T:
    try:
        parsed = fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ValueError(FORMAT_WORDING % {"shape": shape}) from exc
    if problem := problem_of(parsed):
        raise OutOfRange(problem)
    return parsed


def parse_date(value: Any) -> date:
    """A `YYYY-MM-DD` string within bounds; ValueError with a message for people otherwise."""
    return _parse(value, date.fromisoformat, "YYYY-MM-DD", date_problem)


def parse_instant(value: Any) -> datetime:
    """An ISO 8601 instant (offset optional) within bounds; ValueError otherwise."""
    return _parse(value, datetime.fromisoformat, "YYYY-MM-DDThh:mm[:ss]±hh:mm", instant_problem)


def parse_amount(value: Any) -> Decimal:
    """A finite, non-negative amount with at most two decimals that fits a money column."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError("a non-negative amount with at most two decimals") from exc
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError("a non-negative amount with at most two decimals")
    if amount > LARGEST_AMOUNT:
        raise ValueError(AMOUNT_TOO_LARGE)
    return amount


class BoundedDateField(serializers.DateField):
    """DRF's DateField, refusing days outside [EARLIEST, LATEST] with a 400."""

    def to_internal_value(self, value: Any) -> date:
        day = super().to_internal_value(value)
        if problem := date_problem(day):
            raise serializers.ValidationError(problem, code="out_of_range")
        return day


class BoundedDateFormField(forms.DateField):
    """The forms counterpart of BoundedDateField, for the console."""

    def to_python(self, value: Any) -> date | None:
        day = super().to_python(value)
        if day is not None and (problem := date_problem(day)):
            raise ValidationError(problem, code="out_of_range")
        return day
