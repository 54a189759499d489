"""Several listener processes on one port (`mllp_listen --processes 2`): over real sockets,
with connections known to be served by different processes, a channel's messages are still
applied in the order they were stored, and each exactly once."""

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django_tenants.utils import schema_context

from apps.eventstore.models import Event
from apps.integration.models import Message, PatientLink
from apps.scheduling import events
from apps.scheduling.models import Patient
from apps.tenants.models import Tenant
from tests.integration.conftest import (
    applier_of,
    children_of,
    inbound,
    listener_log,
    listeners_of,
    start_listener,
    stop_listener,
)
from tests.integration.traffic import MllpClient, adt, enhanced
from tests.servers import wait_until

pytestmark = pytest.mark.slow


ESTABLISHED = "01"


def _socket_inodes(server_port: int, client_port: int) -> set[str]:
    """The inodes of the server's ends of established loopback connections between these
    ports (from /proc/net/tcp). A connection not yet accepted has inode 0, and an earlier
    connection between the same ports may linger in another state (TIME_WAIT): neither
    counts."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if (
            int(local.split(":")[1], 16) == server_port
            and int(remote.split(":")[1], 16) == client_port
            and state == ESTABLISHED
            and inode != "0"
        ):
            found.add(inode)
    return found


def _holds(pid: int, inodes: set[str]) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    wanted = {f"socket:[{inode}]" for inode in inodes}
    try:
        return any(os.readlink(fd) in wanted for fd in fds.iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return False


def served_by(client: MllpClient, server_port: int, processes: list[int]) -> int:
    """The listener process that accepted this connection."""
    client_port = client.sock.getsockname()[1]
    found: list[int] = []

    def accepted() -> bool:
        inodes = _socket_inodes(server_port, client_port)
        found[:] = [pid for pid in processes if inodes and _holds(pid, inodes)]
        return len(found) == 1

    try:
        wait_until(accepted, 30, "a listener process to accept the connection")
    except AssertionError as error:
        log = listener_log(server_port)
        raise AssertionError(
            f"{error}: server ends {_socket_inodes(server_port, client_port)}, processes "
            f"{[(pid, alive(pid)) for pid in processes]}, listener log "
            f"{log.read_text()[-2000:] if log.exists() else '(none)'}"
        ) from None
    return found[0]


@pytest.fixture(scope="module")
def two_processes() -> Iterator[tuple[int, list[int]]]:
    """A supervised listener with two processes: its port and the two processes' ids."""
    process, port = start_listener(MYMEDIC_MLLP_PROCESSES="2")
    try:
        wait_until(lambda: len(listeners_of(process.pid)) == 2, 30, "two listener processes")
        wait_until(lambda: applier_of(process.pid) is not None, 30, "the applier")
        yield port, listeners_of(process.pid)
    finally:
        children = children_of(process.pid)
        stop_listener(process)
    # Stopping the supervisor stops its processes.
    wait_until(lambda: not any(alive(pid) for pid in children), 15, "the processes to stop")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def one_connection_each(port: int, processes: list[int]) -> tuple[MllpClient, MllpClient]:
    """Connections until one is served by each process (the kernel picks the process, and
    one just started accepts only once it is ready)."""
    by_process: dict[int, MllpClient] = {}
    deadline = time.monotonic() + 60
    try:
        while len(by_process) < 2:
            assert time.monotonic() < deadline, "every connection went to one listener process"
            client = MllpClient(port)
            try:
                pid = served_by(client, port, processes)
            except BaseException:
                client.close()
                raise
            if pid in by_process:
                client.close()
                time.sleep(0.05)
            else:
                by_process[pid] = client
    except BaseException:
        for client in by_process.values():
            client.close()
        raise
    return by_process[processes[0]], by_process[processes[1]]


def test_a_channels_messages_through_two_processes_apply_in_stored_order(
    node: Tenant, two_processes: tuple[int, list[int]]
) -> None:
    """Each patient is registered through one process and updated through the other at
    once (enhanced mode: `CA` as soon as stored, both processes applying meanwhile): an
    update applied before its registration would be an error (identifier not known)."""
    port, processes = two_processes
    channel = inbound(node)
    facility = channel.sending_facility
    first, second = one_connection_each(port, processes)
    identifiers = [f"ORD{uuid.uuid4().hex[:10]}" for _ in range(25)]
    with first, second:
        for n, identifier in enumerate(identifiers):
            register = adt("A04", tenant=node.slug, facility=facility, identifier=identifier,
                           name="Before^Order", phone=f"+91981{n:07d}")  # fmt: skip
            update = adt("A08", tenant=node.slug, facility=facility, identifier=identifier,
                         name=f"After^Order{n}", phone=f"+91981{n:07d}")  # fmt: skip
            one, other = (first, second) if n % 2 == 0 else (second, first)
            assert one.send(enhanced(register)).code == "CA"
            assert other.send(enhanced(update)).code == "CA"
    with schema_context(node.schema_name):
        rows = Message.objects.filter(channel=channel).order_by("id")
        wait_until(
            lambda: not rows.filter(status=Message.Status.RECEIVED).exists(), 60, "the apply"
        )
        assert [m.status for m in rows] == [Message.Status.APPLIED] * 50
        patients = Patient.objects.filter(pk__in=rows.values("patient_id"))
        assert sorted(p.name for p in patients) == sorted(
            f"Order{n} After" for n in range(len(identifiers))
        )
        # The effects are in the event log in the order the messages were stored.
        positions = []
        for message in rows:
            wanted = (
                events.PATIENT_REGISTERED
                if message.message_type == "ADT^A04"
                else events.PATIENT_UPDATED
            )
            [position] = Event.objects.filter(
                stream=f"patient-{message.patient_id}", type=wanted
            ).values_list("position", flat=True)
            positions.append(position)
        assert positions == sorted(positions)


def test_the_same_messages_through_two_processes_at_once_apply_exactly_once(
    node: Tenant, two_processes: tuple[int, list[int]]
) -> None:
    """Both processes receive the same 40 registrations (the same control ids) at the same
    time, each connection waiting for its ACKs (original mode, `AA` = applied): one row, one
    patient, one link and one registration event for each."""
    port, processes = two_processes
    channel = inbound(node)
    texts = [
        adt(
            "A04",
            tenant=node.slug,
            facility=channel.sending_facility,
            identifier=f"DUP{n}-{uuid.uuid4().hex[:6]}",
            phone=f"+91982{n:07d}",
            control_id=f"DUP-{n}-{uuid.uuid4().hex[:6]}",
        )  # fmt: skip
        for n in range(40)
    ]
    first, second = one_connection_each(port, processes)
    answers: dict[str, list[tuple[str, str]]] = {"first": [], "second": []}
    ready = threading.Barrier(2)

    def send_all(name: str, client: MllpClient) -> None:
        ready.wait()
        with client:
            for text in texts:
                ack = client.send(text)
                answers[name].append((ack.code, ack.control_id))

    threads = [
        threading.Thread(target=send_all, args=("first", first)),
        threading.Thread(target=send_all, args=("second", second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    wanted = [("AA", text.split("|")[9]) for text in texts]
    assert answers["first"] == wanted
    assert answers["second"] == wanted
    with schema_context(node.schema_name):
        rows = list(Message.objects.filter(channel=channel).order_by("id"))
        assert len(rows) == 40
        assert {m.status for m in rows} == {Message.Status.APPLIED}
        assert PatientLink.objects.filter(channel=channel).count() == 40
        patient_ids = {m.patient_id for m in rows}
        assert len(patient_ids) == 40
        registered = Event.objects.filter(
            type=events.PATIENT_REGISTERED,
            stream__in=[f"patient-{pk}" for pk in patient_ids],
        )
        assert registered.count() == 40


def test_a_listener_process_that_dies_is_replaced_and_the_port_keeps_answering(
    node: Tenant, two_processes: tuple[int, list[int]]
) -> None:
    port, processes = two_processes
    channel = inbound(node)
    victim = processes[0]
    os.kill(victim, 9)
    supervisor = next(
        int(line.split()[1])
        for line in Path(f"/proc/{processes[1]}/status").read_text().splitlines()
        if line.startswith("PPid:")
    )
    replaced: list[int] = []

    def restarted() -> bool:
        # One look at the children: two looks could see the dead process still there the
        # first time and already reaped, its successor not yet started, the second.
        replaced[:] = listeners_of(supervisor)
        return len(replaced) == 2 and victim not in replaced

    wait_until(restarted, 30, "a new listener process")
    processes[:] = replaced
    text = adt("A04", tenant=node.slug, facility=channel.sending_facility, identifier="AFTER",
               phone="+919830000001")  # fmt: skip
    first, second = one_connection_each(port, replaced)
    with first, second:
        assert first.send(text).code == "AA"
        assert second.send(text).code == "AA"
    with schema_context(node.schema_name):
        assert Message.objects.filter(channel=channel).count() == 1


def test_a_number_of_processes_out_of_range_is_refused_at_start() -> None:
    with pytest.raises(AssertionError, match="--processes is 1 to 64"):
        start_listener(MYMEDIC_MLLP_PROCESSES="0")
