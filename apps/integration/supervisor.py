"""Several listener processes on one MLLP port: a supervisor binds the port once and starts
`processes` children of `mllp_listen`, each accepting connections on that inherited socket,
and (unless told not to) one applier, `hl7_apply` (apps.integration.applier), which applies
what the listeners stored and answered with a commit ACK.

Why a shared socket rather than SO_REUSEPORT: connections wait in the one accept queue while
a child is restarted (with SO_REUSEPORT a dying child's queued connections are
reset), and no other process can bind the port beside us.

Nothing about a channel's order or its duplicates depends on which process a connection
lands in: the store lock numbers a channel's messages in the order they are stored, the
apply lock applies them in that order, once (apps.integration.commands), whichever process
holds them. A child that dies is started again (at most once a second); SIGTERM or SIGINT
stops the children (SIGTERM each, SIGKILL after `STOP_SECONDS`) and then the supervisor.
"""

import ctypes
import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from django.conf import settings

log = logging.getLogger("mymedic.integration")

STOP_SECONDS = 10.0
RESTART_SECONDS = 1.0
PR_SET_PDEATHSIG = 1


# Connections the port queues while no listener process takes them (one restarting).
BACKLOG = 512
# The management command of the applier child.
APPLIER_COMMAND = "hl7_apply"


def is_applier(pid: int) -> bool:
    """Whether the process `pid` (a supervisor's child) is an applier."""
    try:
        return APPLIER_COMMAND.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False


def bind(host: str, port: int) -> socket.socket:
    """The socket the children share (inheritable: passed to them by number), bound and not
    listening yet: the first listener process to serve calls listen() on it (asyncio does),
    so the port takes connections only once a process can answer them, not while the first
    ones are still starting. From then on it listens whatever happens to the children."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.set_inheritable(True)
    return sock


def _die_with_parent() -> None:
    """In a child, before it runs: the kernel sends it SIGTERM when the supervisor dies, so
    no orphaned child keeps accepting on the port."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    def __init__(self, *, host: str, port: int, processes: int, applier: bool = True):
        self.host, self.port, self.processes = host, port, processes
        self.applier = applier
        # The listeners' slots, then the applier's.
        slots = processes + int(applier)
        self.children: list[subprocess.Popen[bytes] | None] = [None] * slots
        self.started_at = [0.0] * slots
        self.stopping = False

    def _child(self, slot: int, sock: socket.socket) -> subprocess.Popen[bytes]:
        manage = Path(settings.BASE_DIR) / "manage.py"
        fd = sock.fileno()
        if slot >= self.processes:
            command = [APPLIER_COMMAND]
        else:
            command = ["mllp_listen", "--processes", "1", "--listen-fd", str(fd)]
            # The listener leaves commit-ACKed messages to the applier.
            command += ["--applier-running"] if self.applier else ["--no-applier"]
        return subprocess.Popen(  # noqa: S603  (our own command)
            [sys.executable, str(manage), *command],
            pass_fds=(fd,) if slot < self.processes else (),
            preexec_fn=_die_with_parent,  # noqa: PLW1509  (the supervisor has no threads)
        )

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> None:
        sock = bind(self.host, self.port)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        try:
            while not self.stopping:
                for slot, child in enumerate(self.children):
                    if child is not None and child.poll() is not None:
                        log.warning(
                            "mllp %s process exited pid=%s status=%s; starting another",
                            "applier" if slot >= self.processes else "listener",
                            child.pid, child.returncode,
                        )  # fmt: skip
                        self.children[slot] = child = None
                    if (
                        child is None
                        and time.monotonic() - self.started_at[slot] >= RESTART_SECONDS
                    ):
                        self.started_at[slot] = time.monotonic()
                        self.children[slot] = self._child(slot, sock)
                time.sleep(0.2)
        finally:
            sock.close()
            self._stop_children()

    def _stop_children(self) -> None:
        running = [child for child in self.children if child is not None and child.poll() is None]
        for child in running:
            child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for child in running:
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
