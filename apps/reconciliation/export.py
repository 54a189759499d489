"""Incremental export of analytical facts (no PHI) from the event log to the warehouse.

Facts are written before the cursor moves; a crash in between writes the same facts again,
which the warehouse's replacing tables fold away (every fact has its event position as key).
"""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django_tenants.postgresql_backend.base import DatabaseWrapper

from apps.billing import events as billing_events
from apps.billing.events import REFUND_EVENT_TYPES
from apps.core.db import connection
from apps.core.replica import read_connection, reading_from_replica
from apps.eventstore.store import head_position
from apps.reconciliation.models import DailyClose, WarehouseCursor
from apps.reconciliation.warehouse import TenantWarehouse, literal
from apps.scheduling.events import APPOINTMENT_ROW_EVENTS

MONEY_EVENTS = {
    billing_events.PAYMENT_TAKEN: "payment",
    **dict.fromkeys(REFUND_EVENT_TYPES, "refund"),
}
# Our own constant event type names, quoted for the SQL below (never input).
MONEY_TYPES = ", ".join(f"'{event_type}'" for event_type in sorted(MONEY_EVENTS))
WINDOW = 500_000  # positions per export step
APPOINTMENT_COLUMNS = [
    "appointment_id",
    "branch_id",
    "doctor_id",
    "date",
    "status",
    "fee",
    "position",
]
MONEY_COLUMNS = ["position", "kind", "branch_id", "date", "method", "amount"]
CLOSE_COLUMNS = [
    "branch_id",
    "date",
    "bookings",
    "cancellations",
    "no_shows",
    "completed",
    "expected",
    "net",
    "variance",
    "status",
    "version",
]

ROLLUP = """
INSERT INTO {db}.money_monthly
SELECT branch_id, toStartOfMonth(date) AS month, kind, method, sum(amount), %(version)s
FROM {db}.money FINAL
WHERE toStartOfMonth(date) IN (%(months)s)
GROUP BY branch_id, month, kind, method
"""


# Facts come out of PostgreSQL as CSV (COPY) and go into the warehouse as CSV: no row
# passes through Python objects, which is what makes a hospital month load in seconds.
APPOINTMENT_FACTS = """
COPY (
    SELECT (data->>'id')::bigint, (data->>'branch_id')::bigint, (data->>'doctor_id')::bigint,
           data->>'date', data->>'status', coalesce(data->>'fee', '0'), position
    FROM eventstore_event
    WHERE position > {lo} AND position <= {hi} AND type = ANY('{types}')
    ORDER BY position
) TO STDOUT WITH (FORMAT csv)
"""

MONEY_FACTS = """
COPY (
    SELECT position, CASE type WHEN 'PaymentTaken' THEN 'payment' ELSE 'refund' END,
           (data->>'branch_id')::bigint, data->>'date', data->>'method', data->>'amount'
    FROM eventstore_event
    WHERE position > {lo} AND position <= {hi} AND type IN (MONEY_TYPES)
      AND data->>'method' <> 'credit'
    ORDER BY position
) TO STDOUT WITH (FORMAT csv)
""".replace("MONEY_TYPES", MONEY_TYPES)

MONEY_MONTHS = """
SELECT DISTINCT date_trunc('month', (data->>'date')::date)::date FROM eventstore_event
WHERE position > %s AND position <= %s AND type IN (MONEY_TYPES)
""".replace("MONEY_TYPES", MONEY_TYPES)


def _copy(sql: str, source: DatabaseWrapper) -> str:
    with source.cursor() as cursor:
        raw = cursor.cursor
        chunks = []
        with raw.copy(sql) as copy:
            for chunk in copy:
                chunks.append(bytes(chunk))
    return b"".join(chunks).decode()


def export(warehouse: TenantWarehouse | None = None, window: int = WINDOW) -> dict[str, int]:
    """Exports the log beyond the cursor, one window of positions at a time, and the daily
    closes computed since the last export (the boundary ones again: replacing tables fold
    repeats). Returns what was written."""
    warehouse = warehouse or TenantWarehouse(connection.schema_name)
    warehouse.ensure_schema()
    WarehouseCursor.objects.get_or_create(pk=1)
    # The facts are read from the standby when one is configured: the head and the facts
    # below it from the same server, so no window is recorded as exported short of its head.
    with reading_from_replica():
        source = read_connection()
        head = head_position()
    written = 0
    types = "{" + ",".join(sorted(APPOINTMENT_ROW_EVENTS)) + "}"
    while True:
        with transaction.atomic():
            cursor = WarehouseCursor.objects.select_for_update().get(pk=1)
            if cursor.position >= head:
                break
            lo, hi = cursor.position, min(cursor.position + window, head)
            appointments = _copy(APPOINTMENT_FACTS.format(lo=lo, hi=hi, types=types), source)
            money = _copy(MONEY_FACTS.format(lo=lo, hi=hi), source)
            warehouse.insert_csv("appointments", APPOINTMENT_COLUMNS, appointments)
            warehouse.insert_csv("money", MONEY_COLUMNS, money)
            with source.cursor() as db:
                db.execute(MONEY_MONTHS, [lo, hi])
                months = sorted(month for (month,) in db.fetchall())
            if months:
                warehouse.run(
                    [
                        ROLLUP.replace("%(version)s", str(hi)).replace(
                            "%(months)s", ",".join(literal(m) for m in months)
                        )
                    ]
                )
            cursor.position = hi
            cursor.save()
            written += appointments.count("\n") + money.count("\n")
    return {"facts": written, "closes": _export_closes(warehouse)}


def export_afresh() -> None:
    """The next export writes every fact and close again, from the start of the log: for a
    tenant that arrived from another cell, whose facts this cell's warehouse may not have."""
    with transaction.atomic():
        cursor, _ = WarehouseCursor.objects.select_for_update().get_or_create(pk=1)
        cursor.position, cursor.closes_exported = 0, None
        cursor.save()


def _export_closes(warehouse: TenantWarehouse) -> int:
    with transaction.atomic():
        cursor = WarehouseCursor.objects.select_for_update().get(pk=1)
        started = timezone.now()
        closes = DailyClose.objects.all()
        if cursor.closes_exported is not None:
            closes = closes.filter(computed__gte=cursor.closes_exported)
        rows = [
            [
                c.branch_id,
                c.date,
                c.bookings,
                c.cancellations,
                c.no_shows,
                c.completed,
                c.expected,
                c.net,
                sum((Decimal(v) for v in c.variance.values()), Decimal("0")),
                c.status,
                c.as_of_position,
            ]
            for c in closes
        ]
        warehouse.insert("daily_closes", CLOSE_COLUMNS, rows)
        cursor.closes_exported = started
        cursor.save()
    return len(rows)
