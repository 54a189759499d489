"""Local nats-server processes with JetStream, for `make bench`, the tests and a developer's
machine: one server, or a cluster of three on loopback. Each runs on free ports with its store
in a given folder, and is stopped by its PID."""

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apps.bench.load import free_port


def nats_binary() -> str:
    found = shutil.which("nats-server", path="/usr/sbin:/usr/bin:/usr/local/bin")
    if not found:
        raise RuntimeError("nats-server is not installed (apt-get install -y nats-server)")
    return found


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class NatsServer:
    name: str
    port: int
    store: Path
    cluster_port: int | None = None
    routes: list[int] = field(default_factory=list)
    process: subprocess.Popen[Any] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        command = [nats_binary(), "-js", "-a", "127.0.0.1", "-p", str(self.port),
                   "-sd", str(self.store), "-n", self.name]  # fmt: skip
        if self.cluster_port is not None:
            routes = ",".join(f"nats://127.0.0.1:{port}" for port in self.routes)
            command += ["--cluster_name", "mymedic", "--routes", routes,
                        "--cluster", f"nats://127.0.0.1:{self.cluster_port}"]  # fmt: skip
        return command

    def start(self, seconds: float = 15) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        log = (self.store.parent / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603  (our own command line)
            self.command(), stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + seconds
        while not _answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nats-server {self.name} did not start")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, seconds: float = 10) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(seconds)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


@contextmanager
def nats_server(directory: Path) -> Iterator[NatsServer]:
    """One JetStream server on a free loopback port, its store under `directory`."""
    server = NatsServer(name="bus", port=free_port(), store=directory / "bus")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextmanager
def nats_cluster(directory: Path, size: int = 3) -> Iterator[list[NatsServer]]:
    """`size` JetStream servers clustered over loopback routes on free ports."""
    cluster_ports = [free_port() for _ in range(size)]
    servers = [
        NatsServer(
            name=f"n{index}",
            port=free_port(),
            store=directory / f"n{index}",
            cluster_port=cluster_ports[index],
            routes=[p for i, p in enumerate(cluster_ports) if i != index],
        )
        for index in range(size)
    ]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            with suppress(Exception):
                server.stop()
