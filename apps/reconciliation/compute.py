"""The daily close, computed from the event log only (never from mutable tables).

For each branch and local date:
- bookings / cancellations / no-shows / completed: appointments of that date by their
  latest state in the log (a rescheduled visit counts on its new date);
- expected: invoice totals of that date's appointments that were not cancelled (the booked
  fee where no invoice has been issued yet); an invoice's total is its latest, after its
  discounts and credit notes;
- collected / refunded: money received and paid back on that date, by method (a refund
  under its payment's method; patient credit is not money and is left out);
- declared: the latest declaration per method; variance = declared − (collected − refunded)
  for each declared method; status undeclared / balanced (within tolerance) / variance;
- settled / in transit (card and UPI): what the gateway has settled of the payments taken on
  that date (gross, by the payment's method and date), and what it has not settled yet
  (collected − settled), from the settlements' events.
"""

from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django_tenants.postgresql_backend.base import DatabaseWrapper

from apps.billing import events as billing_events
from apps.billing.events import INVOICE_TOTAL_EVENTS, REFUND_EVENT_TYPES
from apps.core.db import connection
from apps.core.replica import read_connection, reading_from_replica
from apps.eventstore.store import head_position
from apps.reconciliation.models import DailyClose, ReconciliationSettings
from apps.scheduling.events import APPOINTMENT_ROW_EVENTS
from apps.settlements.events import SETTLED_EVENT_TYPES

ZERO = Decimal("0.00")

# Per appointment, its latest event dated inside the range, kept only when no later event
# exists (a visit rescheduled out of the range counts on its new date instead). Only a
# reschedule changes an appointment's date, so a later event outside the range is always
# preceded by a later AppointmentRescheduled: looking for those alone is enough, and cheap.
APPOINTMENTS_OF_DAYS = """
WITH in_range AS (
    SELECT DISTINCT ON (stream)
        stream, version, (data->>'id')::bigint AS id, (data->>'branch_id')::bigint AS branch_id,
        (data->>'date')::date AS day, data->>'status' AS status, (data->>'fee')::numeric AS fee
    FROM eventstore_event
    WHERE type = ANY(%(types)s) AND (data->>'date') BETWEEN %(lo)s AND %(hi)s
      AND position <= %(upto)s
    ORDER BY stream, version DESC
), latest AS (
    SELECT * FROM in_range
    WHERE NOT EXISTS (
        SELECT 1 FROM eventstore_event later
        WHERE later.type = 'AppointmentRescheduled' AND later.stream = in_range.stream
          AND later.version > in_range.version AND later.position <= %(upto)s
    )
), invoiced AS (
    SELECT DISTINCT ON ((data->>'appointment_id')::bigint)
        (data->>'appointment_id')::bigint AS id, (data->>'total')::numeric AS total
    FROM eventstore_event
    WHERE type = ANY(%(invoice_types)s) AND position <= %(upto)s
      AND (data->>'appointment_id')::bigint IN (SELECT id FROM latest)
    ORDER BY (data->>'appointment_id')::bigint, position DESC
)
SELECT latest.branch_id, latest.day,
       count(*),
       count(*) FILTER (WHERE status = 'cancelled'),
       count(*) FILTER (WHERE status = 'no_show'),
       count(*) FILTER (WHERE status = 'completed'),
       coalesce(sum(coalesce(invoiced.total, latest.fee)) FILTER (WHERE status <> 'cancelled'), 0)
FROM latest LEFT JOIN invoiced USING (id)
GROUP BY latest.branch_id, latest.day
"""

MONEY_OF_DAYS = """
SELECT (data->>'branch_id')::bigint, (data->>'date')::date, data->>'method', type,
       sum((data->>'amount')::numeric)
FROM eventstore_event
WHERE type = ANY(%(money_types)s) AND (data->>'date') BETWEEN %(lo)s AND %(hi)s
  AND data->>'method' <> 'credit' AND position <= %(upto)s
GROUP BY 1, 2, 3, 4
"""

DECLARED_ON_DAYS = """
SELECT DISTINCT ON (data->>'branch_id', data->>'date', data->>'method')
    (data->>'branch_id')::bigint, (data->>'date')::date, data->>'method',
    (data->>'amount')::numeric
FROM eventstore_event
WHERE type = 'DeclarationMade' AND (data->>'date') BETWEEN %(lo)s AND %(hi)s
  AND position <= %(upto)s
ORDER BY data->>'branch_id', data->>'date', data->>'method', position DESC
"""


# Payments the gateway settled, on the date (and by the method) they were taken at the desk.
SETTLED_ON_DAYS = """
SELECT (data->>'branch_id')::bigint, (data->>'date')::date, data->>'method',
       sum((data->>'amount')::numeric)
FROM eventstore_event
WHERE type = ANY(%(settled_types)s) AND (data->>'date') BETWEEN %(lo)s AND %(hi)s
  AND position <= %(upto)s
GROUP BY 1, 2, 3
"""
# Methods whose money reaches the bank through a gateway settlement.
SETTLED_METHODS = ("card", "upi")


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


@dataclass
class Day:
    bookings: int = 0
    cancellations: int = 0
    no_shows: int = 0
    completed: int = 0
    expected: Decimal = ZERO
    collected: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    refunded: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    declared: dict[str, Decimal] = field(default_factory=dict)
    settled: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))

    def in_transit(self) -> dict[str, Decimal]:
        """Card and UPI money taken that day that no settlement has brought in yet."""
        return {
            method: self.collected[method] - self.settled.get(method, ZERO)
            for method in SETTLED_METHODS
            if self.collected.get(method, ZERO) > ZERO or method in self.settled
        }

    def variance(self) -> dict[str, Decimal]:
        return {
            method: amount - (self.collected.get(method, ZERO) - self.refunded.get(method, ZERO))
            for method, amount in self.declared.items()
        }

    def status(self, tolerance: Decimal) -> str:
        if not self.declared:
            return DailyClose.Status.UNDECLARED
        if all(abs(v) <= tolerance for v in self.variance().values()):
            return DailyClose.Status.BALANCED
        return DailyClose.Status.VARIANCE


def compute_days(
    lo: date, hi: date, upto: int, *, source: DatabaseWrapper | None = None
) -> dict[tuple[int, date], Day]:
    """Every branch-day between `lo` and `hi` that the log up to `upto` mentions, read from
    `source` (the default connection unless given)."""
    source = source or connection
    params: dict[str, Any] = {
        "lo": lo.isoformat(),
        "hi": hi.isoformat(),
        "upto": upto,
        "types": sorted(APPOINTMENT_ROW_EVENTS),
        "invoice_types": list(INVOICE_TOTAL_EVENTS),
        "money_types": [billing_events.PAYMENT_TAKEN, *REFUND_EVENT_TYPES],
        "settled_types": list(SETTLED_EVENT_TYPES),
    }
    days: dict[tuple[int, date], Day] = defaultdict(Day)
    with transaction.atomic(using=source.alias), source.cursor() as cursor:
        # A hospital month sorts a few hundred thousand rows: keep the sorts in memory.
        cursor.execute("SET LOCAL work_mem = '128MB'")
        cursor.execute(APPOINTMENTS_OF_DAYS, params)
        for branch_id, day, bookings, cancelled, no_shows, completed, expected in cursor.fetchall():
            entry = days[(branch_id, day)]
            entry.bookings, entry.cancellations, entry.no_shows = bookings, cancelled, no_shows
            entry.completed, entry.expected = completed, Decimal(expected)
        cursor.execute(MONEY_OF_DAYS, params)
        for branch_id, day, method, kind, amount in cursor.fetchall():
            target = days[(branch_id, day)]
            book = target.collected if kind == billing_events.PAYMENT_TAKEN else target.refunded
            book[method] += Decimal(amount)
        cursor.execute(DECLARED_ON_DAYS, params)
        for branch_id, day, method, amount in cursor.fetchall():
            days[(branch_id, day)].declared[method] = Decimal(amount)
        cursor.execute(SETTLED_ON_DAYS, params)
        for branch_id, day, method, amount in cursor.fetchall():
            days[(branch_id, day)].settled[method] += Decimal(amount)
    return days


def tolerance() -> Decimal:
    return ReconciliationSettings.current().tolerance


@transaction.atomic
def close_days(
    lo: date, hi: date, branch_ids: set[int] | None = None, *, from_replica: bool = False
) -> list[DailyClose]:
    """Recomputes (idempotently) the daily closes of every branch-day in the range.

    `from_replica`: the log and declarations are read from the standby when one is configured
    (the nightly run); never for a close that must see a declaration just written. The head
    and the figures come from the same server, so the close is complete up to its head."""
    with reading_from_replica() if from_replica else nullcontext():
        source = read_connection()
        upto = head_position()
    allowed = tolerance()
    days = compute_days(lo, hi, upto, source=source)
    for branch_id in branch_ids or ():
        for offset in range((hi - lo).days + 1):
            days.setdefault((branch_id, lo + timedelta(days=offset)), Day())
    closes = []
    for (branch_id, day), figures in sorted(days.items()):
        if branch_ids is not None and branch_id not in branch_ids:
            continue
        close, _ = DailyClose.objects.update_or_create(
            branch_id=branch_id,
            date=day,
            defaults={
                "bookings": figures.bookings,
                "cancellations": figures.cancellations,
                "no_shows": figures.no_shows,
                "completed": figures.completed,
                "expected": figures.expected,
                "collected": {m: money(v) for m, v in sorted(figures.collected.items())},
                "refunded": {m: money(v) for m, v in sorted(figures.refunded.items())},
                "declared": {m: money(v) for m, v in sorted(figures.declared.items())},
                "variance": {m: money(v) for m, v in sorted(figures.variance().items())},
                "settled": {m: money(v) for m, v in sorted(figures.settled.items())},
                "in_transit": {m: money(v) for m, v in sorted(figures.in_transit().items())},
                "status": figures.status(allowed),
                "as_of_position": upto,
            },
        )
        closes.append(close)
    return closes
