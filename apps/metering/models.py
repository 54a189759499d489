"""Read models of the `usage` projection: what a tenant used, per calendar month.

Rebuilt from the event log like every read model (`manage.py replay --projection usage`):
nothing here is written by anything but the projection.
"""

from datetime import date

from django.db import models


class UsageMonth(models.Model):
    """One metric of one month (the first day names it), by channel where one applies.

    Counters (bookings, messages, HL7 messages) add one per event of the month; levels
    (active doctors, branches) hold the month's highest level, which is what a plan priced
    per doctor or per branch charges for."""

    # "2027-01:messages:sms": a natural key, so a rebuild makes the very same rows.
    key = models.CharField(max_length=64, primary_key=True)
    month = models.DateField()
    metric = models.CharField(max_length=32)
    channel = models.CharField(max_length=16, blank=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["month", "metric", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["month", "metric", "channel"], name="usage_month_metric_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.value}"

    @staticmethod
    def key_of(month: date, metric: str, channel: str) -> str:
        return f"{month:%Y-%m}:{metric}:{channel}"


class MeteredUnit(models.Model):
    """Whether each doctor and branch counts now, for the levels above."""

    key = models.CharField(max_length=40, primary_key=True)  # "doctor:12"
    kind = models.CharField(max_length=16)
    unit_id = models.BigIntegerField()
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "unit_id"], name="metered_unit_once")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({'active' if self.active else 'inactive'})"
