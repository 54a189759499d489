"""One tenant's nightly close, warehouse export and message dispatch raise, another's hang:
every other tenant's still happen, on a real worker (the Procfile's `jobs` line, with faults
injected by `tests.faults.faulty` for the two named tenants)."""

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.billing import commands as billing
from apps.core.tenancy import note_due, tenants_with_work
from apps.eventstore.models import Event
from apps.eventstore.projections import catch_up
from apps.notifications.events import MESSAGE_SENT
from apps.notifications.models import Delivery
from apps.notifications.tasks import dispatch_all_tenants, dispatch_tenant
from apps.reconciliation.models import DailyClose, WarehouseCursor
from apps.reconciliation.tasks import (
    close_tenant_days,
    export_tenant,
    export_warehouse,
    nightly_reconciliation,
)
from apps.scheduling import commands
from apps.tenants.models import Tenant, TenantWork
from tests.faults.conftest import QUEUES
from tests.faults.desk import book, doctor_all_week, slots
from tests.faults.workers import running_worker

pytestmark = pytest.mark.usefixtures("empty_queues")

SOFT, HARD = 4, 6  # the worker's time limits here, in seconds
BOUND = 30  # seconds from beat's fan-out to every tenant's job done, failed or stopped
JOBS = ("nightly-reconciliation", "warehouse-export", "dispatch-notifications")


@pytest.fixture
def faulty_tenants(django_db_setup: dict[str, Tenant], django_db_blocker: Any) -> Iterator[Any]:
    """acme raises, globex hangs; what the run notes about them is put back afterwards."""
    acme, globex = django_db_setup["acme"], django_db_setup["globex"]
    with django_db_blocker.unblock():
        kept = list(TenantWork.objects.filter(tenant__in=[acme, globex]))
        yield acme, globex
        TenantWork.objects.filter(tenant__in=[acme, globex]).delete()
        TenantWork.objects.bulk_create(kept)


def done_within(checks: dict[str, Callable[[], bool]], seconds: float) -> dict[str, float]:
    """Seconds until each check first held; fails naming those that never did."""
    began, took = time.monotonic(), {}
    while time.monotonic() - began < seconds and len(took) < len(checks):
        for name, check in checks.items():
            if name not in took and check():
                took[name] = time.monotonic() - began
        time.sleep(0.1)
    assert set(took) == set(checks), f"not done within {seconds} s: {set(checks) - set(took)}"
    return took


@pytest.mark.fault
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_one_tenant_raising_and_another_hanging_hold_up_no_other_tenants_jobs(
    committed_tenant: Tenant,
    faulty_tenants: Any,
    django_db_blocker: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    acme, globex = faulty_tenants
    for task in (close_tenant_days, export_tenant, dispatch_tenant):
        # A task's limits travel in its message: the sender's must match the worker's (and
        # Celery caches a task's send options on its first send: drop them for the test).
        monkeypatch.setattr(task, "soft_time_limit", SOFT)
        monkeypatch.setattr(task, "time_limit", HARD)
        monkeypatch.setattr(task, "_exec_options", None)
    healthy = committed_tenant.schema_name
    zone = ZoneInfo("Asia/Kolkata")  # every tenant here keeps Indian time
    with django_db_blocker.unblock():
        with schema_context(healthy):
            doctor = doctor_all_week("Dr. Night")
            patient = commands.patient_register(actor=None, name="Night One", phone="+919811100009")
            visit = book(doctor, patient, next(slots(doctor, first_day_offset=1)))
            billing.payment_take(
                actor=None, appointment=visit, kind="deposit", amount=Decimal("250"), method="cash"
            )
            catch_up()  # plans the confirmation, due now
            confirmation = f"appointment-{visit.pk}:confirmation:v1"
            visit_day = visit.start.astimezone(zone).date()
        for tenant in (acme, globex):  # each has a message due too
            with schema_context(tenant.schema_name):
                note_due("dispatch-notifications", timezone.now())
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(*QUEUES)  # only beat sends
        head_before = TenantWork.objects.get(tenant=committed_tenant, job="events").position

        env = {
            "MYMEDIC_FAULT_RAISE": acme.schema_name,
            "MYMEDIC_FAULT_HANG": globex.schema_name,
            "MYMEDIC_TASK_TIME_LIMITS": ",".join(
                f"{queue}={SOFT}/{HARD}" for queue in ("default", "notifications", "reports")
            ),
            "MYMEDIC_TENANT_RETRY_SECONDS": "0.5",
            "MYMEDIC_NOTIFY_DIR": str(tmp_path / "outbox"),
            "MYMEDIC_WAREHOUSE_URL": settings.MYMEDIC_WAREHOUSE_URL,
        }
        log = tmp_path / "jobs.log"
        with running_worker("jobs", log, app="tests.faults.faulty", **env) as worker:
            # Beat's tasks, as beat runs them: in public, at a time that is midnight in India.
            after_tomorrow = timezone.now().astimezone(zone).date() + timedelta(days=2)
            midnight = datetime.combine(after_tomorrow, clock(0, 10), tzinfo=zone)
            fanned = {
                "close": nightly_reconciliation(now=midnight.isoformat()),
                "export": export_warehouse(),
                "dispatch": dispatch_all_tenants(),
            }

            def logged(line: str) -> Callable[[], bool]:
                return lambda: line in log.read_text()

            def in_healthy(check: Callable[[], bool]) -> Callable[[], bool]:
                def run() -> bool:
                    with schema_context(healthy):
                        return check()

                return run

            took = done_within(
                {
                    "close": in_healthy(DailyClose.objects.filter(date=visit_day).exists),
                    "export": in_healthy(
                        lambda: WarehouseCursor.objects.filter(position__gt=0).exists()
                    ),
                    "dispatch": in_healthy(
                        Delivery.objects.filter(key=confirmation, status="sent").exists
                    ),
                    **{
                        f"{acme.schema_name} {job} failed": logged(
                            f"failed schema={acme.schema_name} job={job} error=RuntimeError"
                        )
                        for job in JOBS
                    },
                    f"{acme.schema_name} retried": logged(
                        f"schema={acme.schema_name} job=nightly-reconciliation "
                        "error=RuntimeError attempt=2"
                    ),
                    **{
                        f"{globex.schema_name} {job} stopped": logged(
                            f"over its time limit schema={globex.schema_name} job={job}"
                        )
                        for job in JOBS
                    },
                },
                BOUND,
            )
            worker_alive = worker.popen.poll() is None
        still_listed = tenants_with_work("warehouse-export", timezone.now())

    print("after beat's fan-out: " + ", ".join(f"{what} {s:.1f} s" for what, s in took.items()))
    for schemas in fanned.values():
        assert {acme.schema_name, globex.schema_name, healthy} <= set(schemas)
    # Nothing waited for a hung task to give its process back (which happens at SOFT): a
    # tenant holds at most one process of a worker, its other tasks come back later.
    assert max(took["close"], took["export"], took["dispatch"]) < SOFT
    assert took[f"{globex.schema_name} nightly-reconciliation stopped"] >= SOFT
    assert worker_alive
    # Beat finds the two again next period; the healthy tenant's export is noted as done, up
    # to its log's head when the export ran. Its dispatch appends a "message sent" event, and
    # when that ran after the export began (the order of one tenant's tasks is the worker's),
    # that event alone lists the tenant again for the next period.
    assert {acme.schema_name, globex.schema_name} <= set(still_listed)
    with django_db_blocker.unblock():
        exported_to = TenantWork.objects.get(tenant=committed_tenant, job="warehouse-export")
        with schema_context(healthy):
            later = set(
                Event.objects.filter(position__gt=exported_to.position).values_list(
                    "type", flat=True
                )
            )
    assert exported_to.position >= head_before
    assert later <= {MESSAGE_SENT}
    assert (healthy in still_listed) == bool(later)
