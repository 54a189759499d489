"""Template filters for the one time and money rule (`apps.core.clinictime`)."""

from datetime import date, datetime
from decimal import Decimal

from django import template

from apps.core import clinictime

register = template.Library()


@register.filter
def money(amount: Decimal | int | str | None, currency: str | None = None) -> str:
    """`{{ invoice.total|money }}` → "₹1,250.00"; `{{ x|money:"USD" }}` for another currency."""
    return clinictime.format_money(amount, currency)


@register.filter
def clinic_datetime(instant: datetime | None, zone_name: str | None = None) -> str:
    """`{{ visit.start|clinic_datetime:branch.timezone }}` → "2 Dec 2026, 09:00 IST"."""
    return clinictime.format_datetime(instant, zone_name)


@register.filter
def clinic_date(day: date | datetime | None, zone_name: str | None = None) -> str:
    return clinictime.format_date(day, zone_name)


@register.filter
def clinic_time(instant: datetime | None, zone_name: str | None = None) -> str:
    return clinictime.format_time(instant, zone_name)
