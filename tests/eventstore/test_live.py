"""The live path end to end: a real worker, a real ASGI server, a real SSE stream."""

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.bench.load import worker_command
from apps.clinic.models import Branch, Role, User
from apps.eventstore.live import BranchChannelManager, branch_channel
from apps.eventstore.models import ProjectionState
from apps.eventstore.projections import catch_up
from apps.scheduling import commands
from apps.scheduling.models import AppointmentView
from apps.tenants.models import Tenant
from tests import servers
from tests.clinic.factories import BranchFactory, UserFactory
from tests.clock import ist
from tests.conftest import HostClient, subprocess_env
from tests.scheduling.factories import DoctorFactory, PatientFactory

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture(scope="module", params=["daphne", "nginx-gunicorn"])
def asgi_server(request: pytest.FixtureRequest, django_db_setup: Any) -> Iterator[int]:
    """The ASGI app alone, and as deployed: the stream must pass nginx unbuffered."""
    if request.param == "daphne":
        with servers.asgi_server() as port:
            yield port
    else:
        with servers.proxied_server() as proxied:
            yield proxied.port


@pytest.fixture(scope="module")
def worker(django_db_setup: Any) -> Iterator[subprocess.Popen[bytes]]:
    # Messages left by earlier runs name tenants that no longer exist: drop them first.
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "mymedic", "purge", "-f"],
        env=subprocess_env(),
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        worker_command(),
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(20)


def _branch_doctor_patient(phone: str) -> tuple[Branch, Any, Any]:
    """The committed tenant's branch, with a doctor who works around the clock."""
    branch = Branch.objects.get()
    doctor = DoctorFactory(
        branch=branch,
        slot_minutes=15,
        weekly_hours=[{"weekday": d, "start": "00:00", "end": "23:45"} for d in range(7)],
    )
    patient = PatientFactory(name="Live Patient", phone=phone)
    return branch, doctor, patient


def test_a_booking_reaches_the_read_model_through_a_real_worker(
    committed_tenant: Tenant, django_db_blocker: Any, worker: subprocess.Popen[bytes]
) -> None:
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        _, doctor, patient = _branch_doctor_patient("+919811100011")
        booked = commands.appointment_book(
            actor=None, doctor=doctor, patient=patient, start=ist(5, 10)
        )

        def projected() -> bool:
            state = ProjectionState.objects.filter(name="appointments").first()
            return state is not None and state.position >= booked.position

        servers.wait_until(projected, 30, "the worker to project the booking")
        row = AppointmentView.objects.get(appointment_id=booked.pk)

    assert (row.doctor_id, row.patient_id, row.status) == (doctor.pk, patient.pk, "booked")


def test_a_live_event_arrives_on_the_branch_stream_after_a_booking(
    committed_tenant: Tenant, django_db_blocker: Any, asgi_server: int
) -> None:
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        branch, doctor, patient = _branch_doctor_patient("+919811100012")
        owner = User.objects.get(role=Role.OWNER)
        browser = Client()
        browser.force_login(owner)
        session = browser.cookies["sessionid"].value

        stream = http.client.HTTPConnection("127.0.0.1", asgi_server, timeout=10)
        stream.request(
            "GET",
            f"/events/branches/{branch.pk}/",
            headers={
                "Host": f"{committed_tenant.slug}.localhost",
                "Cookie": f"sessionid={session}",
            },
        )
        response = stream.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type", "").startswith("text/event-stream")
        _read_until(response, b"stream-open")

        booked = commands.appointment_book(
            actor=None, doctor=doctor, patient=patient, start=ist(5, 11)
        )
        catch_up()

        event = _read_until(response, b"event: board")
        stream.close()
    data = json.loads(event.split(b"data: ", 1)[1].split(b"\n", 1)[0])
    assert data["as_of_position"] >= booked.position


def _read_until(response: http.client.HTTPResponse, marker: bytes) -> bytes:
    seen = b""
    deadline = time.monotonic() + 10
    while marker not in seen:
        assert time.monotonic() < deadline, f"no {marker!r} on the stream: {seen[-500:]!r}"
        chunk = response.read1(65536)
        assert chunk, "the stream closed"
        seen += chunk
    return seen[seen.index(marker) :]


def test_no_one_reads_another_branchs_stream(tenant: Tenant, main_branch: Branch) -> None:
    elsewhere = BranchFactory()
    desk = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])
    client = HostClient(f"{tenant.slug}.localhost")

    assert client.get(f"/events/branches/{main_branch.pk}/").status_code == 401
    client.force_login(desk)
    assert client.get(f"/events/branches/{elsewhere.pk}/").status_code == 404

    manager = BranchChannelManager()
    assert manager.can_read_channel(desk, branch_channel(tenant.schema_name, main_branch.pk))
    assert not manager.can_read_channel(desk, branch_channel(tenant.schema_name, elsewhere.pk))
    assert not manager.can_read_channel(None, branch_channel(tenant.schema_name, main_branch.pk))
