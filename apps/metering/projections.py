"""The `usage` projection: per calendar month, the bookings, messages (by channel) and HL7
messages of the log, and the highest number of active doctors and of branches.

A month is a calendar month on the platform's billing clock (`MYMEDIC_BILLING_TIMEZONE`,
India's by default: the platform invoices in India), read from each event's own time, so a
replay files every event in the month the live run did.
"""

from datetime import date
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import F

from apps.eventstore.models import Event
from apps.eventstore.projections import Projection, Touched, register
from apps.metering.meters import BY_CHANNEL, COUNTERS, LEVELS
from apps.metering.models import MeteredUnit, UsageMonth

UNIT_KIND = {"doctors": "doctor", "branches": "branch"}


def billing_month(event: Event) -> date:
    local = event.occurred_at.astimezone(ZoneInfo(settings.MYMEDIC_BILLING_TIMEZONE))
    return local.date().replace(day=1)


class UsageProjection(Projection):
    name = "usage"
    handles = frozenset(
        {
            *(kind for kinds in COUNTERS.values() for kind in kinds),
            *(kind for made, changed in LEVELS.values() for kind in made | changed),
        }
    )
    read_models = (UsageMonth, MeteredUnit)

    def apply(self, event: Event, touched: Touched) -> None:
        month = billing_month(event)
        for metric, kinds in COUNTERS.items():
            if event.type in kinds:
                self._add(month, metric, "", 1)
                if metric in BY_CHANNEL:
                    self._add(month, metric, str(event.data.get("channel", "")), 1)
        for level, (made, changed) in LEVELS.items():
            if event.type in made or (event.type in changed and "active" in event.data):
                self._level(month, level, event)

    def _add(self, month: date, metric: str, channel: str, by: int) -> None:
        key = UsageMonth.key_of(month, metric, channel)
        UsageMonth.objects.get_or_create(
            key=key, defaults={"month": month, "metric": metric, "channel": channel}
        )
        UsageMonth.objects.filter(key=key).update(value=F("value") + by)

    def _level(self, month: date, level: str, event: Event) -> None:
        kind = UNIT_KIND[level]
        before = MeteredUnit.objects.filter(kind=kind, active=True).count()
        unit_id = int(event.data["id"])
        MeteredUnit.objects.update_or_create(
            key=f"{kind}:{unit_id}",
            defaults={
                "kind": kind,
                "unit_id": unit_id,
                "active": bool(event.data.get("active", True)),
            },
        )
        after = MeteredUnit.objects.filter(kind=kind, active=True).count()
        key = UsageMonth.key_of(month, level, "")
        row = UsageMonth.objects.filter(key=key).first()
        UsageMonth.objects.update_or_create(
            key=key,
            defaults={
                "month": month, "metric": level, "channel": "",
                "value": max(row.value if row else before, after),
            },
        )  # fmt: skip


usage = register(UsageProjection())
