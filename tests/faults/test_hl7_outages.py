"""The HL7 listener with two processes (`mllp_listen --processes 2`) on a real stack while
PostgreSQL, then Redis, go away under it. A message the listener could not store gets no ACK
(the sender keeps it and sends it again); the resend after the database is back is stored and
applied once, and the applier applies a commit-ACKed message once the database is back;
Redis is not on the path of a message at all. The same two listener processes and the same
applier serve throughout: an outage is not a crash."""

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.faults.clusters import ROOT, MigratedImage
from tests.faults.stack import Stack, free_port, running_stack, wait_until
from tests.integration.conftest import accepts, children_of
from tests.integration.traffic import MllpClient, adt, enhanced
from tests.servers import stop

# No wall-clock bound is asserted (only generous waits), and only the stack's own services
# are stopped: it runs beside the other tests.
pytestmark = [pytest.mark.fault(alone=False), pytest.mark.slow, pytest.mark.timeout(300)]

FACILITY = "CITYHOSP"
CHANNEL_SCRIPT = """
import django
django.setup()
from django_tenants.utils import schema_context
from apps.integration.commands import channel_add
with schema_context({schema!r}):
    channel_add(actor=None, name="City Hospital", sending_facility={facility!r},
                direction="inbound")
"""


@pytest.fixture(scope="module")
def stack(migrated_image: MigratedImage) -> Iterator[Stack]:
    with running_stack(migrated_image) as running:
        running.manage(
            script=CHANNEL_SCRIPT.format(schema=running.tenant["schema"], facility=FACILITY)
        )
        yield running


@pytest.fixture(scope="module")
def listener(stack: Stack) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """The supervised listener on the stack (its port and the supervisor); stopped by PID."""
    port = free_port()
    with (stack.root / "mllp.log").open("ab") as log:
        supervisor = subprocess.Popen(
            [sys.executable, "manage.py", "mllp_listen", "--processes", "2"],
            cwd=ROOT, env={**stack.env, "MYMEDIC_MLLP_PORT": str(port)}, stdout=log, stderr=log,
        )  # fmt: skip
    try:
        # Two listener processes and the applier.
        wait_until(lambda: accepts(port) and len(children_of(supervisor.pid)) == 3, 60,
                   "the listener's two processes and its applier")  # fmt: skip
        yield port, supervisor
    finally:
        stop(supervisor, 15)


def send(port: int, text: str) -> str | None:
    """The ACK's code, or None when the listener closed the connection without one."""
    try:
        with MllpClient(port, timeout=30) as client:
            return client.send(text).code
    except (ConnectionError, TimeoutError):
        return None


def registration(stack: Stack, identifier: str) -> str:
    return adt("A04", tenant=stack.tenant["slug"], facility=FACILITY, identifier=identifier,
               phone="+919830012345")  # fmt: skip


def test_a_message_not_stored_while_postgres_is_away_is_resent_and_applied_once(
    stack: Stack, listener: tuple[int, subprocess.Popen[bytes]]
) -> None:
    port, supervisor = listener
    processes = sorted(children_of(supervisor.pid))
    before = registration(stack, "BEFORE")
    assert send(port, before) == "AA"

    during = registration(stack, "DURING")
    stack.postgres.stop()
    try:
        # Not stored: the listener answers nothing and drops the connection, so the sender
        # keeps the message (an ACK here would be a promise nothing keeps).
        assert send(port, during) is None
        assert accepts(port)  # the port still takes connections
    finally:
        stack.postgres.start()

    # The sender's resends until one is acknowledged: stored and applied once.
    wait_until(lambda: send(port, during) == "AA", 60, "a resend to be acknowledged")
    assert send(port, during) == "AA"  # a late duplicate is answered, not applied again
    # The applier came through the outage as well: what it is left is applied.
    assert send(port, enhanced(registration(stack, "COMMITTED"))) == "CA"
    wait_until(lambda: stack.count("integration_message", "status = 'applied'") == 3, 30,
               "the applier to apply the commit-ACKed message")  # fmt: skip
    assert stack.count("integration_message") == 3
    assert stack.count("integration_patientlink") == 3
    assert sorted(children_of(supervisor.pid)) == processes


def test_redis_away_is_not_on_the_path_of_a_message(
    stack: Stack, listener: tuple[int, subprocess.Popen[bytes]]
) -> None:
    port, supervisor = listener
    processes = sorted(children_of(supervisor.pid))
    stored = stack.count("integration_message")
    stack.redis.stop()
    try:
        assert send(port, registration(stack, "NOREDIS")) == "AA"
    finally:
        stack.redis.start()
    assert send(port, registration(stack, "AFTER")) == "AA"
    assert stack.count("integration_message", "status = 'applied'") == stored + 2
    assert sorted(children_of(supervisor.pid)) == processes
