"""Workers stopped and restarted: SIGTERM drains (the running task finishes, nothing taken is
lost), a rolling restart under a flow of bookings loses no acknowledged booking, and a
SIGKILLed worker's task comes back to the next worker after the visibility timeout."""

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django_tenants.utils import schema_context

from apps.eventstore.projections import lag
from apps.reconciliation.models import DailyClose
from apps.reconciliation.tasks import close_tenant_days
from apps.scheduling import commands
from apps.scheduling.models import AppointmentView
from apps.tenants.models import Tenant
from tests.conftest import subprocess_env
from tests.faults.desk import book, doctor_all_week, slots
from tests.faults.workers import ROOT, Worker, running_worker
from tests.servers import wait_until

pytestmark = pytest.mark.usefixtures("empty_queues")

BOOKINGS_PER_SECOND = 30
FLOW_SECONDS = 6


def log_has(worker: Worker, text: str) -> bool:
    return text in worker.output()


@pytest.mark.fault
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_rolling_worker_restart_under_load_loses_no_acknowledged_booking(
    committed_tenant: Tenant, django_db_blocker: Any, tmp_path: Path
) -> None:
    schema = committed_tenant.schema_name
    with django_db_blocker.unblock():
        with schema_context(schema):
            doctor = doctor_all_week("Dr. Rolling")
            patient = commands.patient_register(actor=None, name="Rolling", phone="+919811100011")
        old = Worker("worker", tmp_path / "old.log")
        new: Worker | None = None
        try:
            old.wait_ready()
            flow = subprocess.Popen(
                [sys.executable, "-m", "tests.faults.flood", schema, str(doctor.pk),
                 str(patient.pk), str(BOOKINGS_PER_SECOND), str(FLOW_SECONDS)],
                cwd=ROOT, env=subprocess_env(), stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            time.sleep(2)
            new = Worker("worker", tmp_path / "new.log")  # the new one first, then the old goes
            new.wait_ready()
            stopping = time.monotonic()
            old_exit = old.terminate(60)
            drained = time.monotonic() - stopping
            out, _ = flow.communicate(timeout=60)
            last_booking = time.monotonic()
            acknowledged = [int(line.split()[1]) for line in out.splitlines() if "booked" in line]
            with schema_context(schema):
                wait_until(
                    lambda: AppointmentView.objects.filter(pk__in=acknowledged).count()
                    == len(acknowledged),
                    30,
                    "every acknowledged booking in the read model",
                )
                caught_up = time.monotonic() - last_booking
                rows = AppointmentView.objects.filter(doctor_id=doctor.pk).count()
                lags = {name: state["lag"] for name, state in lag().items()}
        finally:
            old.kill()
            if new is not None:
                new.kill()

    print(
        f"{len(acknowledged)} bookings; the old worker drained in {drained:.2f} s; every "
        f"acknowledged booking projected {caught_up:.2f} s after the last"
    )
    assert old_exit == 0
    assert "Warm shutdown" in old.output()
    assert len(acknowledged) >= BOOKINGS_PER_SECOND * FLOW_SECONDS // 4
    assert rows == len(acknowledged)  # none lost, none doubled
    assert set(lags.values()) == {0}


@pytest.mark.fault
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigterm_finishes_the_running_task_and_a_sigkilled_ones_comes_back(
    committed_tenant: Tenant, django_db_blocker: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    schema = committed_tenant.schema_name
    queues = ("default", "projections", "notifications", "reports", "integration")
    env = {
        "MYMEDIC_FAULT_SLOW": schema,
        "MYMEDIC_FAULT_SLOW_SECONDS": "1.5",
        # Hard limits of 3 s make the broker's visibility timeout 6 s.
        "MYMEDIC_TASK_TIME_LIMITS": ",".join(f"{queue}=2/3" for queue in queues),
        "MYMEDIC_WAREHOUSE_URL": settings.MYMEDIC_WAREHOUSE_URL,
    }
    visibility = 6
    monkeypatch.setattr(close_tenant_days, "soft_time_limit", 2)
    monkeypatch.setattr(close_tenant_days, "time_limit", 3)
    monkeypatch.setattr(close_tenant_days, "_exec_options", None)  # cached on a first send
    with django_db_blocker.unblock():
        with schema_context(schema):
            doctor = doctor_all_week("Dr. Drain")
            patient = commands.patient_register(actor=None, name="Drain", phone="+919811100012")
            visit = book(doctor, patient, next(slots(doctor, first_day_offset=1)))
            day = visit.start.astimezone(ZoneInfo(committed_tenant.timezone)).date()
        after = (day + timedelta(days=1)).isoformat()

        def closed() -> bool:
            with schema_context(schema):
                return DailyClose.objects.filter(date=day).exists()

        def close_sent() -> None:
            close_tenant_days.apply_async(args=(after,), headers={"_schema_name": schema})

        # SIGTERM while the close runs: it finishes, then the worker exits.
        with running_worker("jobs", tmp_path / "drain.log", app="tests.faults.faulty", **env) as w:
            close_sent()
            wait_until(lambda: log_has(w, "slow work begins"), 20, "the close to start")
            stopping = time.monotonic()
            exit_code = w.terminate(30)
            drained = time.monotonic() - stopping
            finished_first = closed()
        with schema_context(schema):
            DailyClose.objects.all().delete()

        # SIGKILL while the close runs: the next worker gets the message back and runs it.
        worker = Worker("jobs", tmp_path / "killed.log", app="tests.faults.faulty", **env)
        try:
            worker.wait_ready()
            close_sent()
            wait_until(lambda: log_has(worker, "slow work begins"), 20, "the close to start")
            worker.kill()
            killed = time.monotonic()
            assert not closed()
            # A worker that starts once the visibility timeout has passed takes it back at
            # once (a running one looks every 100 s: kombu's restore cadence).
            time.sleep(visibility)
            with running_worker("jobs", tmp_path / "next.log", app="tests.faults.faulty", **env):
                wait_until(closed, 30, "the killed worker's close to run again")
                came_back = time.monotonic() - killed
        finally:
            worker.kill()

    print(f"SIGTERM drained in {drained:.2f} s; a SIGKILLed task ran again after {came_back:.1f} s")
    assert (exit_code, finished_first) == (0, True)
    assert came_back > visibility  # never handed out again while it might still run
