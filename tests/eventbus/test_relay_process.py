"""`manage.py relay_events` as a process: publishes within moments of each commit (woken by
NOTIFY, not polling), survives nats-server being stopped (writes go on committing) and, once it
is back, publishes everything it missed, in order and once."""

import subprocess
import sys
import time
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.eventbus.natsserver import NatsServer
from apps.eventbus.relay import notifying_relay
from apps.eventstore.models import Event
from apps.tenants.models import Tenant
from tests.conftest import subprocess_env
from tests.eventbus.conftest import read_stream
from tests.eventbus.test_relay import book_some, subjects_of
from tests.servers import stop, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.fault, pytest.mark.timeout(180)]


def positions(bus: NatsServer, tenant: Tenant) -> list[int]:
    return [m.payload["position"] for m in read_stream(bus.url, subjects_of(tenant), wait=0.2)]


def head(tenant: Tenant) -> int:
    with schema_context(tenant.schema_name):
        return int(Event.objects.order_by("-position").values_list("position", flat=True)[0])


def test_the_relay_process_publishes_on_commit_and_catches_up_after_a_nats_outage(
    committed_tenant: Tenant, django_db_blocker: Any, bus: NatsServer
) -> None:
    relay = subprocess.Popen(
        [sys.executable, "manage.py", "relay_events"],
        env=subprocess_env(MYMEDIC_EVENT_BUS=bus.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # the relay's bus is set for its process only: the test's appends wake it as a writer's
        # configured for the bus do
        with django_db_blocker.unblock(), notifying_relay():
            first_head = head(committed_tenant)
            wait_until(lambda: positions(bus, committed_tenant)[-1:] == [first_head], 30, "start")

            with schema_context(committed_tenant.schema_name):
                book_some(2)
            booked = time.monotonic()
            wait_until(
                lambda: positions(bus, committed_tenant)[-1] == head(committed_tenant), 10, "live"
            )
            live_seconds = time.monotonic() - booked

            bus.stop()
            with schema_context(committed_tenant.schema_name):
                book_some(3)  # writes commit while the bus is away
            time.sleep(2)  # the relay tries, fails and backs off
            assert relay.poll() is None
            bus.start()
            back = time.monotonic()
            wait_until(
                lambda: positions(bus, committed_tenant)[-1] == head(committed_tenant),
                30,
                "caught up",
            )
            catch_up_seconds = time.monotonic() - back
            with schema_context(committed_tenant.schema_name):
                expected = list(
                    Event.objects.order_by("position").values_list("position", flat=True)
                )
    finally:
        stop(relay, 15)
        output = relay.stdout.read() if relay.stdout else ""
        if relay.stdout:
            relay.stdout.close()

    assert positions(bus, committed_tenant) == expected  # all, in order, once
    assert "event bus unavailable" in output
    assert live_seconds < 3  # measured 0.05–0.2 s; NOTIFY, not the 5 s look
    assert catch_up_seconds < 10  # backoff tops out at 5 s
    print(f"relay: live {live_seconds:.3f} s, caught up {catch_up_seconds:.3f} s after NATS")
