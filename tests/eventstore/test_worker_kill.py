"""A projection worker killed (SIGKILL) mid-batch: the rerun gives exactly the same rows."""

import signal
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.clinic.models import Branch
from apps.eventstore import replay
from apps.eventstore.models import ProjectionState
from apps.eventstore.projections import catch_up
from apps.scheduling import commands
from apps.scheduling.models import AppointmentView
from apps.scheduling.projections import appointments
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.conftest import subprocess_env
from tests.scheduling.factories import DoctorFactory, PatientFactory

# Runs the real projection, then stops inside the open transaction until it is killed.
DOOMED_WORKER = textwrap.dedent(
    """
    import sys, time, django
    django.setup()
    from django_tenants.utils import schema_context
    from apps.eventstore.projections import catch_up
    from apps.scheduling.models import AppointmentView
    from apps.scheduling.projections import AppointmentsProjection

    real = AppointmentsProjection.apply_batch

    def write_then_hang(self, events, touched):
        real(self, events, touched)
        print("written", AppointmentView.objects.count(), flush=True)
        time.sleep(60)

    AppointmentsProjection.apply_batch = write_then_hang
    with schema_context(sys.argv[1]):
        catch_up(["appointments"])
    """
)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(
    committed_tenant: Tenant, django_db_blocker: Any
) -> None:
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        branch = Branch.objects.get()
        doctor = DoctorFactory(
            branch=branch, weekly_hours=[{"weekday": 1, "start": "09:00", "end": "17:00"}]
        )
        patient = PatientFactory(name="K", phone="+919800000077")
        made = [
            commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, h))
            for h in range(9, 17)
        ]
        commands.appointment_cancel(actor=None, appointment=made[0], reason="x")
        before = ProjectionState.objects.filter(name="appointments").first()
        start_position = before.position if before else 0

        worker = subprocess.Popen(
            [sys.executable, "-c", DOOMED_WORKER, committed_tenant.schema_name],
            env=subprocess_env(DJANGO_SETTINGS_MODULE="mymedic.settings"),
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            line = worker.stdout.readline() if worker.stdout else ""
            assert line.startswith("written"), line
            assert int(line.split()[1]) > 0  # the doomed transaction did write rows
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            if worker.stdout:
                worker.stdout.close()

        assert AppointmentView.objects.count() == 0
        assert ProjectionState.objects.get(name="appointments").position == start_position

        catch_up(["appointments"])
        after_rerun = list(AppointmentView.objects.order_by("pk").values())
        assert replay.check(appointments) == []
        replay.rebuild(appointments)
        assert list(AppointmentView.objects.order_by("pk").values()) == after_rerun
        assert len(after_rerun) == len(made)
