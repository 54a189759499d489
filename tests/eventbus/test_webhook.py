"""The outbound webhook channel fed from the bus: a durable consumer with explicit acks that
delivers every event in order, retries a failing endpoint, and applies nothing twice even
when the bus delivers everything again."""

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import nats
import pytest
from django_tenants.utils import schema_context

from apps.eventbus import relay
from apps.eventbus.messages import STREAM
from apps.eventbus.models import WebhookCursor
from apps.eventbus.natsserver import NatsServer
from apps.eventbus.publishers import NatsPublisher
from apps.eventstore.models import Event
from apps.tenants.models import Tenant
from tests.conftest import subprocess_env
from tests.eventbus.test_relay import book_some
from tests.servers import free_port, stop, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


class Endpoint:
    """A webhook receiver on loopback: refuses the first `failures` POSTs with 503."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.accepted: list[tuple[str, dict[str, Any]]] = []
        self.refused = 0
        self.bearers: set[str] = set()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if endpoint.refused < endpoint.failures:
                    endpoint.refused += 1
                    self.send_response(503)
                else:
                    endpoint.bearers.add(self.headers.get("Authorization", ""))
                    endpoint.accepted.append((self.headers["Idempotency-Key"], json.loads(body)))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Endpoint":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_consumer(bus: NatsServer, url: str, tenant: Tenant) -> subprocess.Popen[Any]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "bus_webhook", "--name", "lab", "--url", url,
         "--subjects", f"mymedic.events.in.{tenant.slug}.>", "--bus", bus.url,
         "--token-env", "LAB_TOKEN"],
        env=subprocess_env(LAB_TOKEN="lab-secret"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def _forget_consumer(url: str) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_consumer(STREAM, "lab")
    finally:
        await nc.close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    with Endpoint(failures=2) as running:
        yield running


def test_the_webhook_gets_every_event_in_order_once_despite_failures_and_redelivery(
    committed_tenant: Tenant, django_db_blocker: Any, bus: NatsServer, endpoint: Endpoint
) -> None:
    publisher = NatsPublisher([bus.url])
    with django_db_blocker.unblock():
        with schema_context(committed_tenant.schema_name):
            book_some(3)
            expected = list(Event.objects.order_by("position").values_list("position", flat=True))
        relay.relay_pending(publisher)
    publisher.close()
    keys = [f"{committed_tenant.slug}:{p}" for p in expected]

    consumer = start_consumer(bus, endpoint.url, committed_tenant)
    try:
        wait_until(lambda: len(endpoint.accepted) >= len(keys), 60, "every event delivered")
    finally:
        stop(consumer, 10)
    assert endpoint.refused == 2
    assert endpoint.bearers == {"Bearer lab-secret"}
    assert [key for key, _ in endpoint.accepted] == keys
    assert [body["position"] for _, body in endpoint.accepted] == expected
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        assert WebhookCursor.objects.get(channel="lab").position == expected[-1]

    # The bus forgets the consumer: everything is delivered again, nothing is POSTed again.
    asyncio.run(_forget_consumer(bus.url))
    consumer = start_consumer(bus, endpoint.url, committed_tenant)
    try:
        time.sleep(3)
        with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
            book_some(1)
            newest = Event.objects.order_by("-position").values_list("position", flat=True)[0]
            publisher = NatsPublisher([bus.url])
            relay.relay_pending(publisher)
            publisher.close()
        wait_until(
            lambda: endpoint.accepted[-1][1]["position"] == newest, 30, "the new event delivered"
        )
    finally:
        stop(consumer, 10)
    delivered = [key for key, _ in endpoint.accepted]
    assert len(delivered) == len(set(delivered))
    assert delivered[: len(keys)] == keys
