"""Incremental export of analytical facts (no PHI) from the event log to the warehouse.

Facts are written before the cursor moves; a crash in between writes the same facts again,
which the warehouse's replacing tables fold away (every fact has its event position as key).
"""

from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.db import connection
from apps.eventstore.models import Event
from apps.reconciliation.models import DailyClose, WarehouseCursor
from apps.reconciliation.warehouse import TenantWarehouse, literal
from apps.scheduling.projections import APPOINTMENT_EVENTS

MONEY_EVENTS = {"PaymentTaken": "payment", "RefundIssued": "refund"}
BATCH = 20_000
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
CLOSE_COLUMNS = ["branch_id", "date", "bookings", "cancellations", "no_shows", "completed",
                 "expected", "net", "variance", "status", "version"]  # fmt: skip

ROLLUP = """
INSERT INTO {db}.money_monthly
SELECT branch_id, toStartOfMonth(date) AS month, kind, method, sum(amount), %(version)s
FROM {db}.money FINAL
WHERE toStartOfMonth(date) IN (%(months)s)
GROUP BY branch_id, month, kind, method
"""


def _facts(events: list[Event]) -> tuple[list[list[Any]], list[list[Any]]]:
    appointments, money = [], []
    for event in events:
        data = event.data
        if event.type in APPOINTMENT_EVENTS:
            appointments.append([
                data["id"], data["branch_id"], data["doctor_id"], date.fromisoformat(data["date"]),
                data["status"], Decimal(data.get("fee") or "0"), event.position,
            ])  # fmt: skip
        elif data.get("method") != "credit":  # patient credit is not money
            money.append([
                event.position, MONEY_EVENTS[event.type], data["branch_id"],
                date.fromisoformat(data["date"]), data["method"], Decimal(data["amount"]),
            ])  # fmt: skip
    return appointments, money


def export(warehouse: TenantWarehouse | None = None, batch: int = BATCH) -> dict[str, int]:
    """Exports the log beyond the cursor and the daily closes computed since the last export
    (the boundary ones again: replacing tables fold repeats). Returns the counts written."""
    warehouse = warehouse or TenantWarehouse(connection.schema_name)
    warehouse.ensure_schema()
    WarehouseCursor.objects.get_or_create(pk=1)
    written = 0
    types = sorted(APPOINTMENT_EVENTS | set(MONEY_EVENTS))
    while True:
        with transaction.atomic():
            cursor = WarehouseCursor.objects.select_for_update().get(pk=1)
            events = list(
                Event.objects.filter(position__gt=cursor.position, type__in=types)
                .defer("metadata")
                .order_by("position")[:batch]
            )
            if not events:
                break
            appointments, money = _facts(events)
            warehouse.insert("appointments", APPOINTMENT_COLUMNS, appointments)
            warehouse.insert("money", MONEY_COLUMNS, money)
            months = sorted({row[3].replace(day=1) for row in money})
            if months:
                warehouse.run([
                    ROLLUP.replace("%(version)s", str(events[-1].position)).replace(
                        "%(months)s", ",".join(literal(m) for m in months)
                    )
                ])  # fmt: skip
            cursor.position = events[-1].position
            cursor.save()
            written += len(appointments) + len(money)
    return {"facts": written, "closes": _export_closes(warehouse)}


def _export_closes(warehouse: TenantWarehouse) -> int:
    with transaction.atomic():
        cursor = WarehouseCursor.objects.select_for_update().get(pk=1)
        started = timezone.now()
        closes = DailyClose.objects.all()
        if cursor.closes_exported is not None:
            closes = closes.filter(computed__gte=cursor.closes_exported)
        rows = [
            [c.branch_id, c.date, c.bookings, c.cancellations, c.no_shows, c.completed,
             c.expected, c.net, sum((Decimal(v) for v in c.variance.values()), Decimal("0")),
             c.status, c.as_of_position]
            for c in closes
        ]  # fmt: skip
        warehouse.insert("daily_closes", CLOSE_COLUMNS, rows)
        cursor.closes_exported = started
        cursor.save()
    return len(rows)
