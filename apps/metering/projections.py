"""The `usage` projection: per calendar month, the bookings, messages (by channel) and HL7
messages of the log, and the highest number of active doctors and of branches.

A month is a calendar month on the platform's billing clock (`MYMEDIC_BILLING_TIMEZONE`,
India's by default: the platform invoices in India), read from each event's own time, so a
replay files every event in the month the live run did.
"""

from collections import Counter
from datetime import date
from zoneinfo import ZoneInfo

from django.conf import settings
from psycopg import sql

from apps.core.db import connection
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
        self.apply_batch([event], touched)

    def apply_batch(self, events: list[Event], touched: Touched) -> None:
        """Levels as each event comes (they read the units' count); the counters' additions
        of the whole batch summed per row and written in one statement at the end (counters
        and levels are rows of different metrics)."""
        counted: Counter[tuple[date, str, str]] = Counter()
        for event in events:
            month = billing_month(event)
            for metric, kinds in COUNTERS.items():
                if event.type in kinds:
                    counted[month, metric, ""] += 1
                    if metric in BY_CHANNEL:
                        counted[month, metric, str(event.data.get("channel", ""))] += 1
            for level, (made, changed) in LEVELS.items():
                if event.type in made or (event.type in changed and "active" in event.data):
                    self._level(month, level, event)
        if counted:
            _add_all(counted)

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


def _add_all(counted: Counter[tuple[date, str, str]]) -> None:
    """Adds to each counter's row, making the rows not there yet: one upsert."""
    rows = sorted(counted.items())  # one order, so two writers lock rows alike
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "INSERT INTO {table} AS usage (key, month, metric, channel, value) VALUES {rows}"
                " ON CONFLICT (key) DO UPDATE SET value = usage.value + EXCLUDED.value"
            ).format(
                table=sql.Identifier(UsageMonth._meta.db_table),
                rows=sql.SQL(", ").join(sql.SQL("(%s, %s, %s, %s, %s)") for _ in rows),
            ),
            [
                value
                for (month, metric, channel), by in rows
                for value in (UsageMonth.key_of(month, metric, channel), month, metric, channel, by)
            ],
        )


usage = register(UsageProjection())
