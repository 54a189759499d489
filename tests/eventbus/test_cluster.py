"""A three-node JetStream cluster on loopback (routes on free ports, the stream replicated 3
times): the stream's leader is killed (SIGKILL) while bookings commit and the relay publishes.
Every event arrives, in order per tenant, none twice at the consumer."""

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from django_tenants.utils import schema_context

from apps.clinic.models import Branch
from apps.eventbus.messages import STREAM
from apps.eventbus.natsserver import NatsServer, nats_cluster
from apps.eventbus.relay import notifying_relay
from apps.eventstore.models import Event
from apps.scheduling import commands
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.conftest import subprocess_env
from tests.eventbus.conftest import read_stream
from tests.eventbus.test_relay import subjects_of
from tests.scheduling.factories import DoctorFactory, PatientFactory
from tests.servers import stop, wait_until

# It breaks only servers it started and bounds no wall-clock time, only generous waits: it
# runs beside other tests, in the parallel phase (docs/TESTING.md).
pytestmark = [pytest.mark.slow, pytest.mark.fault(alone=False), pytest.mark.timeout(240)]
ALL_DAY = [{"weekday": d, "start": "06:00", "end": "22:00"} for d in range(7)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[NatsServer]]:
    with nats_cluster(tmp_path) as servers:
        yield servers


async def _leader(urls: list[str]) -> str:
    nc = await nats.connect(servers=urls, connect_timeout=2)
    try:
        info = await nc.jetstream(timeout=2).stream_info(STREAM)
        assert info.cluster is not None
        return str(info.cluster.leader)
    finally:
        await nc.close()


def stream_leader(urls: list[str]) -> str:
    try:
        return asyncio.run(_leader(urls))
    except Exception:  # noqa: BLE001 - not elected yet, or no stream yet
        return ""


def last_position(urls: list[str], tenant: Tenant) -> int:
    """The newest position of the tenant's on the stream (0 while the cluster cannot say)."""
    try:
        received = read_stream(urls, subjects_of(tenant), wait=0.2)
    except Exception:  # noqa: BLE001 - electing a leader: ask again
        return 0
    return int(received[-1].payload["position"]) if received else 0


def read_after_election(urls: list[str], subjects: str, seconds: float = 60) -> list[Any]:
    """The whole stream, read from the survivors. Right after a node dies the cluster may
    still be electing its JetStream meta leader, and a consumer cannot be made until it has
    one (the request times out): the read is tried again until `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return read_stream(urls, subjects)
        except (TimeoutError, nats.errors.Error):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_killing_the_stream_leader_under_load_loses_reorders_and_doubles_nothing(
    committed_tenant: Tenant, django_db_blocker: Any, cluster: list[NatsServer]
) -> None:
    urls = [server.url for server in cluster]
    relay = subprocess.Popen(
        [sys.executable, "manage.py", "relay_events"],
        env=subprocess_env(MYMEDIC_EVENT_BUS=",".join(urls), MYMEDIC_EVENT_BUS_REPLICAS="3"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    killed = ""
    try:
        wait_until(lambda: stream_leader(urls) != "", 60, "the stream and its leader")
        with (
            django_db_blocker.unblock(),
            notifying_relay(),  # as the writers of a cell with a bus do
            schema_context(committed_tenant.schema_name),
        ):
            doctor = DoctorFactory(branch=Branch.objects.get(), weekly_hours=ALL_DAY)
            patient = PatientFactory(name="Cluster Patient", phone="+919800000092")
            for index in range(150):
                day, slot = 5 + index // 30, index % 30
                commands.appointment_book(
                    actor=None,
                    doctor=doctor,
                    patient=patient,
                    start=ist(day, 6 + slot // 2, 30 * (slot % 2)),
                )
                if index == 50:
                    killed = stream_leader(urls)
                    next(s for s in cluster if s.name == killed).kill()
                time.sleep(0.01)
            expected = list(Event.objects.order_by("position").values_list("position", flat=True))
        alive = [s.url for s in cluster if s.name != killed]
        last_booked = time.monotonic()
        wait_until(
            lambda: last_position(alive, committed_tenant) == expected[-1],
            90,
            "every event on the surviving nodes",
        )
        caught_up = time.monotonic() - last_booked
        new_leader = stream_leader(alive)
    finally:
        stop(relay, 15)

    received = read_after_election(alive, subjects_of(committed_tenant))
    assert killed in {"n0", "n1", "n2"}
    assert new_leader not in {"", killed}
    assert [m.payload["position"] for m in received] == expected
    assert len({m.message_id for m in received}) == len(received)
    print(f"cluster: leader {killed} killed; all on the survivors {caught_up:.2f} s after the end")
