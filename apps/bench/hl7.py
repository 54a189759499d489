"""The `hl7` bench part: sustained inbound ADT over MLLP through the real listener process,
measured at the sender (messages per second, ACK latency from the last byte sent to the
whole ACK read)."""

import socket
import subprocess
import sys
import threading
import time
from typing import Any

from django_tenants.utils import schema_context

from apps.bench.load import free_port
from apps.bench.measure import summary_ms, wait_for
from apps.integration.commands import channel_add
from apps.tenants.models import Tenant

START, END = b"\x0b", b"\x1c\x0d"


def adt(slug: str, event: str, control_id: str, identifier: str, n: int) -> str:
    phone = f"+9197{n:08d}"
    return (
        f"MSH|^~\\&|HIS|BENCH|MYMEDIC|{slug}|20270104090000||ADT^{event}^ADT_A01|{control_id}|P|2.5\r"
        f"PID|||{identifier}^^^BENCH^MR||Patient^Bench^{n}||19800101||||||{phone}\r"
    )


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def sender(port: int, texts: list[str], latencies: list[float], codes: dict[str, int]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as peer:
        for text in texts:
            started = time.perf_counter()
            peer.sendall(START + text.encode() + END)
            received = b""
            while END not in received:
                received += peer.recv(65536)
            latencies.append(time.perf_counter() - started)
            code = received.decode().split("MSA|")[1][:2]
            codes[code] = codes.get(code, 0) + 1


def bench_hl7(tenant: Tenant, *, connections: int, per_connection: int) -> dict[str, Any]:
    """Each connection registers patients (A04) and updates each once (A08), in turn."""
    with schema_context(tenant.schema_name):
        channel_add(actor=None, name="Bench", sending_facility="BENCH", direction="inbound")
    port = free_port()
    listener = subprocess.Popen(  # noqa: S603  (our own command)
        [sys.executable, "manage.py", "mllp_listen", "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    try:
        if not wait_for(lambda: _accepts(port), 60):
            raise RuntimeError("the MLLP listener did not start")
        batches = []
        for c in range(connections):
            texts = []
            for k in range(per_connection // 2):
                n = c * per_connection + k
                texts.append(adt(tenant.slug, "A04", f"R{n}", f"B{n}", n))
                texts.append(adt(tenant.slug, "A08", f"U{n}", f"B{n}", n))
            batches.append(texts)
        latencies: list[float] = []
        codes: dict[str, int] = {}
        threads = [
            threading.Thread(target=sender, args=(port, texts, latencies, codes))
            for texts in batches
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        listener.terminate()
        listener.wait(10)
    total = len(latencies)
    return {
        "messages": total,
        "connections": connections,
        "seconds": round(elapsed, 2),
        "per_s": round(total / elapsed, 1),
        "ack_ms": summary_ms(latencies),
        "codes": codes,
    }
