"""Request parsing and response shapes of the reconciliation API. Serializers never save."""

from collections.abc import Callable
from datetime import date
from typing import Any

from rest_framework import serializers

from apps.core.dates import BoundedDateField, date_problem
from apps.reconciliation import reports
from apps.reconciliation.models import METHODS


class DeclarationSerializer(serializers.Serializer):
    branch = serializers.IntegerField(min_value=1)
    date = BoundedDateField(
        help_text="A day that has happened in the branch (400 otherwise); the front desk "
        "may declare the last MYMEDIC_DECLARATION_WINDOW_DAYS days only (403 otherwise)."
    )
    method = serializers.ChoiceField(choices=METHODS)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)


class DayQuery(serializers.Serializer):
    branch = serializers.IntegerField(min_value=1)
    date = BoundedDateField()


class SignOffSerializer(DayQuery):
    note = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="",
        help_text="Required when the day has a variance (400 otherwise).",
    )  # fmt: skip


def _period(value: str, bounds_of: Callable[[str], tuple[date, date]], unknown: str) -> str:
    """A week or month the calendar has, both of whose ends are days the reports accept."""
    try:
        first, last = bounds_of(value)
    except (ValueError, OverflowError) as exc:
        raise serializers.ValidationError(unknown) from exc
    if problem := date_problem(first) or date_problem(last):
        raise serializers.ValidationError(problem)
    return value


class WeekQuery(serializers.Serializer):
    branch = serializers.IntegerField(min_value=1)
    week = serializers.RegexField(
        r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$",
        help_text="An ISO week, e.g. 2026-W48; week 53 only in years that have one.",
    )
    format = serializers.ChoiceField(choices=["json", "csv"], required=False, default="json")

    def validate_week(self, value: str) -> str:
        return _period(value, reports.week_bounds, "No such ISO week.")


class MonthQuery(serializers.Serializer):
    month = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", help_text="e.g. 2026-11")
    format = serializers.ChoiceField(choices=["json", "csv"], required=False, default="json")

    def validate_month(self, value: str) -> str:
        return _period(value, reports.month_bounds, "No such month.")


class RunSerializer(serializers.Serializer):
    date = BoundedDateField()


class DeclarationResultSerializer(DeclarationSerializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()


class BooksSerializer(serializers.Serializer):
    bookings = serializers.IntegerField()
    cancellations = serializers.IntegerField()
    no_shows = serializers.IntegerField()
    completed = serializers.IntegerField()
    expected = serializers.CharField()
    collected = serializers.DictField(child=serializers.CharField())
    refunded = serializers.DictField(child=serializers.CharField())
    declared = serializers.DictField(child=serializers.CharField())
    variance = serializers.DictField(child=serializers.CharField())
    net = serializers.CharField()


class DailyCloseSerializer(BooksSerializer):
    branch = serializers.IntegerField()
    date = BoundedDateField()
    settled = serializers.DictField(child=serializers.CharField())
    in_transit = serializers.DictField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=["undeclared", "balanced", "variance"])
    as_of_position = serializers.IntegerField()


class TotalsSerializer(BooksSerializer):
    days_with_variance = serializers.IntegerField()


class WeeklySerializer(serializers.Serializer):
    branch = serializers.IntegerField()
    week = serializers.CharField()
    days = DailyCloseSerializer(many=True)
    totals = TotalsSerializer()


class BranchTotalsSerializer(TotalsSerializer):
    branch = serializers.IntegerField()
    name = serializers.CharField()


class MonthlySerializer(serializers.Serializer):
    month = serializers.CharField()
    branches = BranchTotalsSerializer(many=True)
    chain = TotalsSerializer()


class RunResultSerializer(serializers.Serializer):
    date = BoundedDateField()
    closes = DailyCloseSerializer(many=True)


class ImportResultSerializer(serializers.Serializer):
    imported = serializers.IntegerField()
    position = serializers.IntegerField()


class SignOffResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    variance = serializers.DictField(child=serializers.CharField())
    position = serializers.IntegerField()


class AnalyticsRowSerializer(serializers.Serializer):
    branch = serializers.IntegerField()
    period = serializers.CharField()
    bookings = serializers.IntegerField()
    no_shows = serializers.IntegerField()
    cancellations = serializers.IntegerField()
    no_show_rate = serializers.FloatField()
    takings = serializers.CharField()
    variance = serializers.CharField()
    days_with_variance = serializers.IntegerField()


class AnalyticsQuery(serializers.Serializer):
    start = BoundedDateField()
    end = BoundedDateField()
    by = serializers.ChoiceField(choices=["week", "month"], required=False, default="month")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["End on or after the start."]})
        if (attrs["end"] - attrs["start"]).days > 3660:
            raise serializers.ValidationError({"end": ["Ask for ten years at most."]})
        return attrs
