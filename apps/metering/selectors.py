"""Reads of the usage read model."""

from datetime import date

from apps.metering.meters import BY_CHANNEL, LEVELS, METRICS
from apps.metering.models import MeteredUnit, UsageMonth
from apps.metering.projections import UNIT_KIND


def usage_of(month: date) -> dict[str, int]:
    """The month's usage by metric (0 for what nothing counted). A level (doctors, branches)
    of a month with no change is the level now."""
    rows = {
        row.metric: row.value
        for row in UsageMonth.objects.filter(month=month.replace(day=1), channel="")
    }
    usage = {metric: rows.get(metric, 0) for metric in METRICS}
    for level in LEVELS:
        if level not in rows:
            usage[level] = MeteredUnit.objects.filter(kind=UNIT_KIND[level], active=True).count()
    return usage


def usage_by_channel(month: date) -> dict[str, dict[str, int]]:
    """Per metric kept by channel: {channel: count} for the month."""
    return {
        metric: {
            row.channel: row.value
            for row in UsageMonth.objects.filter(month=month.replace(day=1), metric=metric)
            .exclude(channel="")
            .order_by("channel")
        }
        for metric in sorted(BY_CHANNEL)
    }
