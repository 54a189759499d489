"""The `hl7` bench part: sustained inbound ADT over MLLP through the real listener process,
measured at the sender (messages per second, ACK latency from the last byte sent to the
whole ACK read), in both acknowledgment modes (original: `AA` once applied; enhanced,
MSH-15 = AL: `CA` once stored, applied by the applier process), over several connections
and channels; and the CPU it took: the listener processes', the applier's and the
PostgreSQL backends' serving them (from /proc), per message, which does not depend on how
loaded the machine is."""

import os
import resource
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from django_tenants.utils import schema_context

from apps.bench.load import free_port
from apps.bench.measure import summary_ms, wait_for
from apps.bench.procs import children as children_of
from apps.bench.procs import cpu_seconds, idle
from apps.core.db import connection
from apps.integration.commands import APPLY_BATCH, apply_pending, channel_add
from apps.integration.listener import store_batch
from apps.integration.models import Message
from apps.integration.parsing import header_of
from apps.integration.supervisor import is_applier
from apps.tenants.models import Tenant

START, END = b"\x0b", b"\x1c\x0d"
LISTENER_NAME = "mymedic-bench-mllp"


def adt(
    slug: str, facility: str, event: str, control_id: str, identifier: str, n: int, mode: str
) -> str:
    phone = f"+9197{n:08d}"
    return (
        f"MSH|^~\\&|HIS|{facility}|MYMEDIC|{slug}|20270104090000||ADT^{event}^ADT_A01|"
        f"{control_id}|P|2.5|||{mode}\r"
        f"PID|||{identifier}^^^{facility}^MR||Patient^Bench^{n}||19800101||||||{phone}\r"
    )


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def sender(port: int, texts: list[str], latencies: list[float], codes: dict[str, int]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as peer:
        for text in texts:
            started = time.perf_counter()
            peer.sendall(START + text.encode() + END)
            received = b""
            while END not in received:
                received += peer.recv(65536)
            latencies.append(time.perf_counter() - started)
            code = received.decode().split("MSA|")[1][:2]
            codes[code] = codes.get(code, 0) + 1


def _tree_cpu(pid: int, children: list[int]) -> float:
    """CPU of the supervisor and of its listener processes."""
    return cpu_seconds(pid) + _summed_cpu(children)


def _backends() -> list[int]:
    """The PostgreSQL backends of the bench's listener (they name it, see below)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [LISTENER_NAME]
        )
        return [pid for (pid,) in cursor.fetchall()]


def _summed_cpu(pids: list[int]) -> float:
    """CPU of the processes `pids`, leaving out any that ended or cannot be read."""
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue
    return total


def run_mode(
    tenant: Tenant,
    *,
    mode: str,
    connections: int,
    channels: list[str],
    per_connection: int,
    tag: str,
    processes: int = 1,
) -> dict[str, Any]:
    """One run: `connections` senders spread over `channels`, each registering patients
    (A04) and updating each once (A08), each waiting for its ACK; `processes` listener
    processes share the port."""
    port = free_port()
    env = {**os.environ, "PGAPPNAME": LISTENER_NAME}
    listener = subprocess.Popen(  # noqa: S603  (our own command)
        [sys.executable, "manage.py", "mllp_listen", "--port", str(port),
         "--processes", str(processes)],
        stdout=subprocess.DEVNULL,
        env=env,
    )  # fmt: skip
    try:
        if not wait_for(lambda: _accepts(port), 60):
            raise RuntimeError("the MLLP listener did not start")
        # Every child (the listener processes and the applier, unless
        # MYMEDIC_MLLP_APPLIER=0; none when one process runs alone) started and idle, its
        # start-up done, so none of the run's CPU is a child starting.
        applier = os.environ.get("MYMEDIC_MLLP_APPLIER") != "0"
        expected = processes + applier if processes > 1 or applier else 0
        wait_for(lambda: len(children_of(listener.pid)) == expected, 60)
        children = children_of(listener.pid)
        wait_for(lambda: idle(listener.pid), 60)
        appliers = [pid for pid in children if is_applier(pid)]
        listeners = [pid for pid in children if pid not in appliers]
        batches = []
        for c in range(connections):
            facility = channels[c % len(channels)]
            texts = []
            for k in range(per_connection // 2):
                n = c * per_connection + k
                texts.append(adt(tenant.slug, facility, "A04", f"{tag}R{n}", f"{tag}B{n}", n, mode))
                texts.append(adt(tenant.slug, facility, "A08", f"{tag}U{n}", f"{tag}B{n}", n, mode))
            batches.append(texts)
        latencies: list[float] = []
        # One count a sender thread (a shared dict's read-modify-write loses counts).
        counts: list[dict[str, int]] = [{} for _ in batches]
        threads = [
            threading.Thread(target=sender, args=(port, texts, latencies, count))
            for texts, count in zip(batches, counts, strict=True)
        ]
        cpu_before = _tree_cpu(listener.pid, listeners)
        applier_before = _summed_cpu(appliers)
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if mode:
            # Enhanced mode: the ACK came on storing; the run ends once all is applied.
            with schema_context(tenant.schema_name):
                wait_for(
                    lambda: not Message.objects.filter(status=Message.Status.RECEIVED).exists(),
                    600,
                )
        applied_after = time.perf_counter() - started
        backends = _backends()
        listener_cpu = _tree_cpu(listener.pid, listeners) - cpu_before
        applier_cpu = _summed_cpu(appliers) - applier_before
        database_cpu = _summed_cpu(backends)
    finally:
        listener.terminate()
        listener.wait(10)
    total = len(latencies)
    return {
        "mode": "enhanced (MSH-15 AL)" if mode else "original",
        "messages": total,
        "connections": connections,
        "channels": len(channels),
        "processes": processes,
        "seconds": round(elapsed, 2),
        "per_s": round(total / elapsed, 1),
        "applied_per_s": round(total / applied_after, 1),
        "ack_ms": summary_ms(latencies),
        "codes": {
            code: sum(count.get(code, 0) for count in counts)
            for code in sorted({code for count in counts for code in count})
        },
        "cpu_ms_per_message": {
            "listener": round(listener_cpu / total * 1000, 2),
            "applier": round(applier_cpu / total * 1000, 2),
            "postgres": round(database_cpu / total * 1000, 2),
        },
        "load_average": os.getloadavg()[0],
    }


# The acknowledgment modes a run can take, in the order they run, each with its MSH-15:
# empty (`AA` once applied), and `AL` (`CA` once stored, applied by the applier).
MODES = {"original": "", "enhanced": "AL"}


def bench_hl7(
    tenant: Tenant,
    *,
    connections: int,
    per_connection: int,
    channels: int = 1,
    processes: int = 1,
    modes: list[str] | None = None,
) -> dict[str, Any]:
    """The acknowledgment `modes` (both unless given) over `connections` connections and
    `channels` channels."""
    facilities = [f"BENCH{k}" for k in range(channels)]
    with schema_context(tenant.schema_name):
        for facility in facilities:
            channel_add(actor=None, name=facility, sending_facility=facility, direction="inbound")
    runs = [
        run_mode(
            tenant,
            mode=mode,
            connections=connections,
            channels=facilities,
            per_connection=per_connection,
            # Control ids and identifiers of a run start with its mode's letter (O, E).
            tag=name[0].upper(),
            processes=processes,
        )  # fmt: skip
        for name, mode in MODES.items()
        if name in (modes or MODES)
    ]
    # The bench process's own CPU is the senders': reported apart from the node's.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "connections": connections,
        "channels": channels,
        "processes": processes,
        "runs": runs,
        "sender_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
    }


class _Counter:
    """Counts the statements sent (but the connection's schema switches) and the savepoints
    among them, keeping none (Django's query log keeps only the last 9,000)."""

    def __init__(self) -> None:
        self.statements = self.savepoints = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if not sql.startswith("SET "):
            self.statements += 1
            self.savepoints += sql.startswith("SAVEPOINT")
        return execute(sql, params, many, context)


def bench_hl7_in_process(tenant: Tenant, *, messages: int) -> dict[str, Any]:
    """The store path (what an enhanced-mode ACK waits for: the header read, the routing
    and the batch's insert, as the listener's `store_batch`) and the apply path
    (`apply_pending`, batches of `APPLY_BATCH`) of `messages` A04 registrations, in this
    process, without sockets or threads: CPU a message (this process's user + system time;
    PostgreSQL's is not in it), then statements and savepoints a message counted over as
    many other registrations (counting slows a pass, so it is a pass of its own)."""
    with schema_context(tenant.schema_name):
        channel = channel_add(
            actor=None, name="in-process", sending_facility="INPROC", direction="inbound"
        )
    connection.set_schema_to_public()

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def store(texts: list[str]) -> None:
        for first in range(0, len(texts), APPLY_BATCH):
            chunk = texts[first : first + APPLY_BATCH]
            store_batch(tenant.slug, "INPROC", [header_of(text) for text in chunk], chunk)

    def apply() -> None:
        with schema_context(tenant.schema_name):
            apply_pending(channel)

    def registrations(tag: str) -> list[str]:
        return [
            adt(tenant.slug, "INPROC", "A04", f"{tag}R{n}", f"{tag}B{n}", n, "AL")
            for n in range(messages)
        ]

    texts = registrations("T")
    started = cpu()
    store(texts)
    stored = cpu()
    apply()
    applied = cpu()
    texts = registrations("C")
    storing, applying = _Counter(), _Counter()
    with connection.execute_wrapper(storing):
        store(texts)
    with connection.execute_wrapper(applying):
        apply()
    return {
        "messages": messages,
        "store_cpu_ms": round((stored - started) / messages * 1000, 3),
        "apply_cpu_ms": round((applied - stored) / messages * 1000, 3),
        "store_statements": round(storing.statements / messages, 3),
        "apply_statements": round(applying.statements / messages, 2),
        "apply_savepoints": round(applying.savepoints / messages, 3),
        "load_average": os.getloadavg()[0],
    }
