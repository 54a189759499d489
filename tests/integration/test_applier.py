"""The applier process beside the listeners (`mllp_listen`, by default): a message answered
with a commit ACK is applied by it, not by the listener, in the channel's order; an original
mode message does not wait for it; what was stored and left unapplied is applied when an
applier starts; one that dies is replaced. Real processes and sockets throughout."""

import os
import signal
import uuid
from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context

from apps.core.db import connection
from apps.integration import applier
from apps.integration.commands import message_store
from apps.integration.models import Channel, Message, PatientLink
from apps.integration.parsing import parse
from apps.tenants.models import Tenant
from tests.integration.conftest import applier_of, inbound, start_listener, stop_listener
from tests.integration.traffic import MllpClient, adt, enhanced
from tests.servers import wait_until

pytestmark = pytest.mark.slow


def registration(tenant: Tenant, channel: Channel, n: int) -> str:
    return adt(
        "A04",
        tenant=tenant.slug,
        facility=channel.sending_facility,
        identifier=f"AP-{uuid.uuid4().hex[:8]}",
        phone=f"+91983{n:07d}",
    )


def statuses(tenant: Tenant, channel: Channel) -> list[str]:
    with schema_context(tenant.schema_name):
        return list(
            Message.objects.filter(channel=channel).order_by("id").values_list("status", flat=True)
        )


def links(tenant: Tenant, channel: Channel) -> int:
    with schema_context(tenant.schema_name):
        return PatientLink.objects.filter(channel_id=channel.pk).count()


@pytest.fixture
def supervised() -> Iterator[tuple[int, int]]:
    """A listener as the Procfile runs it (one listener process and the applier): its port
    and the supervisor's id."""
    process, port = start_listener()
    try:
        wait_until(lambda: applier_of(process.pid) is not None, 30, "the applier")
        yield port, process.pid
    finally:
        stop_listener(process)


def test_commit_acked_messages_are_applied_by_the_applier_and_not_by_the_listener(
    node: Tenant, supervised: tuple[int, int]
) -> None:
    port, supervisor = supervised
    committed, original = inbound(node), inbound(node)
    paused = applier_of(supervisor)
    assert paused is not None
    os.kill(paused, signal.SIGSTOP)
    try:
        with MllpClient(port) as client:
            codes = [client.send(enhanced(registration(node, committed, n))).code for n in range(5)]
            # An original-mode message is applied by the listener before its answer: it does
            # not wait for the applier.
            assert client.send(registration(node, original, 9)).code == "AA"
        assert codes == ["CA"] * 5
        # The listener stored them and left them: nothing applies them while the applier
        # is stopped (the retry job's left-behind sweep is a minute away).
        assert statuses(node, committed) == [Message.Status.RECEIVED] * 5
        assert links(node, original) == 1
    finally:
        os.kill(paused, signal.SIGCONT)
    wait_until(
        lambda: statuses(node, committed) == [Message.Status.APPLIED] * 5,
        30,
        "the applier to apply the channel's messages",
    )
    assert links(node, committed) == 5
    with schema_context(node.schema_name):
        applied = Message.objects.filter(channel=committed).order_by("id")
        times = list(applied.values_list("applied_at", flat=True))
    assert times == sorted(times)  # in the order they were stored
    assert applier_of(supervisor) == paused  # the same process: it was paused, not replaced


def test_a_starting_applier_applies_what_was_stored_and_never_applied(node: Tenant) -> None:
    channel = inbound(node)
    text = enhanced(registration(node, channel, 1))
    # A listener stored it, answered `CA` and died before any applier heard of it.
    with schema_context(node.schema_name):
        _, header = parse(text)
        message_store(channel=channel, header=header, raw=text)
    assert statuses(node, channel) == [Message.Status.RECEIVED]
    process, _ = start_listener()
    try:
        # Nothing is sent, and no worker runs the retry job here: only the applier's look
        # as it starts can apply it.
        wait_until(
            lambda: statuses(node, channel) == [Message.Status.APPLIED], 60, "the start-up look"
        )
    finally:
        stop_listener(process)
    assert links(node, channel) == 1


def test_an_applier_that_dies_is_replaced_and_the_next_messages_are_applied(
    node: Tenant, supervised: tuple[int, int]
) -> None:
    port, supervisor = supervised
    channel = inbound(node)
    victim = applier_of(supervisor)
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: applier_of(supervisor) not in (None, victim), 30, "a new applier process")
    with MllpClient(port) as client:
        codes = [client.send(enhanced(registration(node, channel, n))).code for n in range(3)]
    assert codes == ["CA"] * 3
    wait_until(
        lambda: statuses(node, channel) == [Message.Status.APPLIED] * 3, 30, "the new applier"
    )


def test_without_an_applier_the_listener_applies_commit_acked_messages_itself(
    node: Tenant,
) -> None:
    channel = inbound(node)
    process, port = start_listener(MYMEDIC_MLLP_APPLIER="0")
    try:
        assert applier_of(process.pid) is None
        with MllpClient(port) as client:
            assert client.send(enhanced(registration(node, channel, 2))).code == "CA"
        wait_until(lambda: statuses(node, channel) == [Message.Status.APPLIED], 30, "the listener")
    finally:
        stop_listener(process)


def test_the_applier_reads_only_the_notifications_it_understands(node: Tenant) -> None:
    channel = inbound(node)
    text = registration(node, channel, 3)
    with schema_context(node.schema_name):
        _, header = parse(text)
        message_store(channel=channel, header=header, raw=text)
    assert applier._parsed("no channel here") is None
    assert applier._parsed(f"{node.schema_name}:x") is None
    named = applier._parsed(applier.work_for(node.schema_name, channel.pk))
    assert named == (node.schema_name, channel.pk)
    # A channel that is gone is passed over; the named one is applied once, however often
    # it was named.
    applied = applier.apply_channels([named, named, (node.schema_name, 10**9)])
    connection.set_schema_to_public()
    assert (applied.messages, applied.failed) == (1, [])
    assert statuses(node, channel) == [Message.Status.APPLIED]
