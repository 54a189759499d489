"""The `costs` bench part: what one unit of work costs on this machine, in CPU-seconds and
bytes, for docs/COST-MODEL.md.

CPU is counted for the processes that do the work and nothing else, so a machine loaded by
others skews it less than wall time would: this process (the request or command path,
in-process through Django's test client: no nginx or ASGI server), the PostgreSQL backend
serving its connection (`/proc/<pid>/stat` of `pg_backend_pid()`) and the Redis server
(`INFO cpu`). Bytes are the growth of the tenant's tables, warehouse database and backup
file per visit (a visit: a booking, a deposit, check-in, completion and the balance)."""

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.test import Client as TestClient
from django_redis import get_redis_connection
from django_tenants.utils import schema_context

from apps.bench.hl7 import adt
from apps.billing.commands import payment_take
from apps.clinic import tokens
from apps.clinic.models import Branch, Role, User
from apps.core.db import connection
from apps.eventstore.live import push_branch_changes
from apps.eventstore.projections import Touched, catch_up
from apps.integration.commands import channel_add
from apps.integration.listener import apply_batch, store_batch
from apps.integration.parsing import parse
from apps.lifecycle.storage import schema_bytes, warehouse_bytes
from apps.reconciliation.export import export
from apps.scheduling import commands
from apps.scheduling.models import Appointment
from apps.tenants.backups import tenant_backup
from apps.tenants.commands import tenant_domain
from apps.tenants.models import Tenant

IST = ZoneInfo("Asia/Kolkata")
TICKS = os.sysconf("SC_CLK_TCK")
HOURS = [{"weekday": d, "start": "00:00", "end": "23:55"} for d in range(7)]


def _backend_cpu() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _redis_cpu() -> float:
    info = get_redis_connection("default").info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


@dataclass
class Spent:
    app: float = 0.0
    postgres: float = 0.0
    redis: float = 0.0

    @property
    def total(self) -> float:
        return self.app + self.postgres + self.redis


@contextmanager
def cpu() -> Iterator[Spent]:
    spent = Spent()
    app, postgres, redis = time.process_time(), _backend_cpu(), _redis_cpu()
    try:
        yield spent
    finally:
        spent.app = time.process_time() - app
        spent.postgres = _backend_cpu() - postgres
        spent.redis = _redis_cpu() - redis


def _per_unit(spent: Spent, units: int) -> dict[str, float]:
    return {
        "cpu_ms": round(spent.total / units * 1000, 3),
        "app_ms": round(spent.app / units * 1000, 3),
        "postgres_ms": round(spent.postgres / units * 1000, 3),
        "redis_ms": round(spent.redis / units * 1000, 3),
        "units": units,
    }


def _table_bytes(schema: str) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, pg_total_relation_size(format('%%I.%%I', schemaname, tablename))"
            " FROM pg_tables WHERE schemaname = %s",
            [schema],
        )
        return {table: int(size) for table, size in cursor.fetchall()}


def bench_costs(
    make_tenant: Callable[[str], Tenant],
    drop_tenant: Callable[[Tenant], None],
    visits: int,
    progress: Callable[[str], Any],
) -> dict[str, Any]:
    tenant = make_tenant("clinic")
    host = tenant_domain(tenant.slug)
    # One token sends every request: lift its rate limit (its counter still costs its round
    # trip to Redis, as in production).
    rate, settings.MYMEDIC_API_USER_RATE = settings.MYMEDIC_API_USER_RATE, "100000000/min"
    try:
        with schema_context(tenant.schema_name):
            branch = Branch.objects.get()
            doctors = [
                commands.doctor_add(
                    actor=None,
                    branch=branch,
                    name=f"Dr. Cost {n}",
                    specialty="GP",
                    slot_minutes=5,
                    consultation_fee=Decimal("500"),
                    weekly_hours=HOURS,
                )  # fmt: skip
                for n in range(4)
            ]
            patients = [
                commands.patient_register(
                    actor=None, name=f"Cost Patient {n}", phone=f"+9198{n:08d}"
                )
                for n in range(50)
            ]
            key = tokens.mint(User.objects.get(role=Role.OWNER))
            catch_up()
            before = _table_bytes(tenant.schema_name)
        client = TestClient(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Token {key}")
        day = datetime.now(IST).date() + timedelta(days=1)
        starts = [
            (doctors[n % 4], datetime.combine(day, datetime.min.time(), IST)
             + timedelta(days=n // 1000, minutes=5 * ((n // 4) % 250)))
            for n in range(visits)
        ]  # fmt: skip
        progress(f"costs: {visits} bookings through the API")
        with cpu() as booking:
            for n, (doctor, start) in enumerate(starts):
                answer = client.post(
                    "/api/v1/appointments/",
                    {"doctor": doctor.pk, "patient": patients[n % 50].pk,
                     "start": start.isoformat()},
                    content_type="application/json",
                )  # fmt: skip
                assert answer.status_code == 201, answer.content  # noqa: S101
        with schema_context(tenant.schema_name), cpu() as projecting:
            catch_up()
        progress("costs: the rest of each visit (deposit, check-in, completion)")
        with schema_context(tenant.schema_name), cpu() as visiting:
            for appointment in Appointment.objects.order_by("pk"):
                payment_take(
                    actor=None, appointment=appointment, kind="deposit",
                    amount=Decimal("200.00"), method="upi",
                )  # fmt: skip
                at = appointment.start  # their day is to come: act at their time
                commands.appointment_check_in(actor=None, appointment=appointment, now=at)
                commands.appointment_complete(
                    actor=None, appointment=appointment, now=at + timedelta(minutes=4)
                )
            catch_up()
        with schema_context(tenant.schema_name):
            after = _table_bytes(tenant.schema_name)
        reads = min(visits * 4, 4000)
        url = f"/api/v1/doctors/{doctors[0].pk}/day/?date={day.isoformat()}"
        assert client.get(url).status_code == 200  # noqa: S101  (warm)
        progress(f"costs: {reads} cached reads of the doctor's day")
        with cpu() as reading:
            for _ in range(reads):
                client.get(url)
        pushes = min(visits * 2, 2000)
        with schema_context(tenant.schema_name), cpu() as pushing:
            for position in range(pushes):
                push_branch_changes(Touched(branches={branch.pk}), position)
        progress("costs: HL7 ADT messages")
        with schema_context(tenant.schema_name):
            channel_add(actor=None, name="Cost", sending_facility="BENCH", direction="inbound")
        messages = min(visits, 1000)
        texts = [
            adt(tenant.slug, "BENCH", "A04", f"C{n}", f"MRN{n}", n, "") for n in range(messages)
        ]
        with cpu() as hl7:
            for text in texts:
                assert "MSA|AA" in _one_message(text)  # noqa: S101
        with schema_context(tenant.schema_name):
            export()
            in_warehouse = warehouse_bytes(tenant.schema_name)
        grown = {table: after.get(table, 0) - before.get(table, 0) for table in after}
        log = grown.get("eventstore_event", 0)
        audit = grown.get("audit_auditentry", 0)
        with tempfile.TemporaryDirectory() as folder:
            backup = tenant_backup(slug=tenant.slug, out=Path(folder) / "b.tar")
            backup_bytes = backup.path.stat().st_size
        return {
            "visits": visits,
            "cpu": {
                "booking_api": _per_unit(booking, visits),
                "booking_projections": _per_unit(projecting, visits),
                "visit_rest_commands": _per_unit(visiting, visits),
                "cached_read": _per_unit(reading, reads),
                "sse_push_publish": _per_unit(pushing, pushes),
                "hl7_message": _per_unit(hl7, messages),
            },
            "bytes_per_visit": {
                "event_log": round(log / visits),
                "audit_trail": round(audit / visits),
                "read_models_and_rest": round((sum(grown.values()) - log - audit) / visits),
                "warehouse": round(in_warehouse / visits),
                "backup_file": round(backup_bytes / visits),
            },
            "schema_bytes": schema_bytes(tenant.schema_name),
            "settings": {"warehouse": settings.MYMEDIC_WAREHOUSE_URL.split("://")[0]},
        }
    finally:
        settings.MYMEDIC_API_USER_RATE = rate
        drop_tenant(tenant)


# --- from units to segments: docs/COST-MODEL.md states and cites each assumption ------------

USD_PER_VCPU_HOUR = Decimal("0.0408")  # EC2 m7g.large on demand: $0.0816/h for 2 vCPU
USD_PER_GB_MONTH_DB = Decimal("0.115")  # gp3 database storage
USD_PER_GB_MONTH_BACKUP = Decimal("0.095")  # backup storage
INR_PER_USD = Decimal("85")
HEADROOM = Decimal("3")  # capacity bought per CPU-second used: peaks, standby, idle hours
DB_COPIES = 2  # primary and a streaming standby
BACKUP_COPIES = 7  # a week of daily tenant backups
MONTHS_KEPT = 12  # storage of a tenant one year in (its log and models only grow)
WORKING_DAYS = 26


@dataclass(frozen=True)
class Segment:
    name: str
    plan: str
    doctors: int
    branches: int
    visits_per_doctor_day: int
    reads_per_visit: int  # doctor's day and board refreshes
    pushes_per_visit: int  # board pushes: ~4 changes a visit x screens open
    hl7_per_visit: int

    @property
    def visits(self) -> int:
        return self.doctors * self.visits_per_doctor_day * WORKING_DAYS


SEGMENTS = (
    Segment("clinic (5 doctors)", "clinic", 5, 1, 25, 10, 8, 0),
    Segment("chain (150 doctors)", "chain", 150, 15, 25, 10, 8, 0),
    Segment("hospital (2,000 doctors)", "hospital", 2000, 20, 30, 10, 8, 3),
)


def segments(measured: dict[str, Any]) -> list[dict[str, Any]]:
    """Infrastructure cost per tenant and month for each segment, from the measured units,
    beside what its plan charges (apps.plans.statements on the seeded plans)."""
    from apps.plans.models import Plan
    from apps.plans.statements import charges

    units = {name: Decimal(str(unit["cpu_ms"])) / 1000 for name, unit in measured["cpu"].items()}
    per_visit = measured["bytes_per_visit"]
    rows = []
    for segment in SEGMENTS:
        cpu_seconds = segment.visits * (
            units["booking_api"] + units["booking_projections"] + units["visit_rest_commands"]
            + segment.reads_per_visit * units["cached_read"]
            + segment.pushes_per_visit * units["sse_push_publish"]
            + segment.hl7_per_visit * units["hl7_message"]
        )  # fmt: skip
        database = (
            per_visit["event_log"] + per_visit["audit_trail"] + per_visit["read_models_and_rest"]
        )
        kept = segment.visits * MONTHS_KEPT
        db_gb = Decimal(kept * (database * DB_COPIES + per_visit["warehouse"])) / 10**9
        backup_gb = Decimal(kept * per_visit["backup_file"] * BACKUP_COPIES) / 10**9
        usd = (
            cpu_seconds / 3600 * USD_PER_VCPU_HOUR * HEADROOM
            + db_gb * USD_PER_GB_MONTH_DB
            + backup_gb * USD_PER_GB_MONTH_BACKUP
        )
        plan = Plan.objects.get(slug=segment.plan)
        usage = {
            "doctors": segment.doctors, "branches": segment.branches,
            "bookings": segment.visits, "messages": 0, "hl7_messages": 0,
        }  # fmt: skip
        price = sum((line.amount for line in charges(plan, usage)), Decimal("0"))
        floor = (usd * INR_PER_USD).quantize(Decimal("1"))
        rows.append(
            {
                "segment": segment.name,
                "visits_a_month": segment.visits,
                "cpu_hours_a_month": round(float(cpu_seconds / 3600), 2),
                "database_gb_after_a_year": round(float(db_gb), 2),
                "backup_gb_after_a_year": round(float(backup_gb), 2),
                "infra_inr_a_month": int(floor),
                "plan": plan.slug,
                "plan_price_inr_a_month": int(price),
                "infra_share_of_price_pct": round(float(floor / price * 100), 2) if price else None,
            }
        )
    return rows


def _one_message(text: str) -> str:
    """One inbound message stored and applied as the listener does with a batch of one (its
    own transactions); the ACK it would send."""
    _, header = parse(text)
    stored = store_batch(header.receiving_facility, header.sending_facility, [header], [text])
    assert stored.schema and stored.channel and stored.message_ids[0]  # noqa: S101
    return apply_batch(stored.schema, stored.channel, [header], [stored.message_ids[0]])[0]
