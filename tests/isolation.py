"""Each pytest-xdist worker gets its own Redis server and its own folder of local files.

Loaded with `-p tests.isolation` (pyproject.toml) so that it runs before pytest-django reads
the settings: `mymedic/settings.py` derives the cache, the Celery broker and the live pushes
from REDIS_URL, and the warehouse, outbox, mail, backups and audit anchors from
MYMEDIC_LOCAL_DIR, so pointing those two variables at the worker's own server and folder
isolates everything derived from them, in this process and in every server or worker a test
starts (tests/conftest.subprocess_env passes the environment on).

A server of its own rather than a logical database: the suite empties the cache before each
test (FLUSHDB), which would cut into the other worker's test, and Redis publish/subscribe
channels, which carry the live board, span all logical databases of a server (both workers'
test databases have a branch 1). Each worker's database is its copy of the run's test database
(test_<name>_gwN, tests/testdb.py).

Tests that must run alone (marked `fault` or `timing`: they break services, kill processes or
assert a wall-clock bound) take turns with the others: while one runs, no other worker starts
a test, so it has the machine as in a serial run (`TakeTurns`).

Outside xdist (MYMEDIC_TEST_WORKERS=1, or pytest run directly) nothing changes: the suite uses
the Redis and the folder of `scripts/local.sh`. See docs/TESTING.md.
"""

import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends it SIGTERM when this worker ends, even by
    SIGKILL, so a crashed worker leaves no Redis behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class WorkerRedis:
    """A Redis server on a free loopback port, without persistence, stopped by its PID."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> None:
        # The port is free when probed but could be taken before Redis binds it: try another.
        for _ in range(5):
            self.port = free_port()
            self.process = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.directory)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,  # before any thread of the suite starts
            )  # fmt: skip
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.process.poll() is None:
                if _answers(self.port):
                    return
                time.sleep(0.02)
            self.stop()
        raise RuntimeError("the worker's Redis server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def runs_alone(item: pytest.Item) -> bool:
    """Whether a test must not run beside any other: it breaks services or kills processes
    (`fault`), or it asserts a wall-clock bound (`timing`). A fault test that breaks only
    servers it started itself and asserts no wall-clock bound (only generous waits) says
    `fault(alone=False)`: it runs beside the others, in the parallel phase."""
    if item.get_closest_marker("timing"):
        return True
    fault = item.get_closest_marker("fault")
    return fault is not None and fault.kwargs.get("alone", True) is not False


class TakeTurns:
    """A lock shared by the workers of one run (file locks in the temporary folder): a test
    that runs alone holds the room; any other test shares it. A test that runs alone first
    closes the gate, so the workers that share cannot keep it waiting for ever."""

    def __init__(self, run: str) -> None:
        stem = Path(tempfile.gettempdir()) / f"mymedic-tests-{run}"
        self.paths = [stem.with_suffix(".gate"), stem.with_suffix(".room")]
        self.gate, self.room = (path.open("a") for path in self.paths)

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        fcntl.flock(self.gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(self.room, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self.room, fcntl.LOCK_UN)
        finally:
            fcntl.flock(self.gate, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        fcntl.flock(self.gate, fcntl.LOCK_EX)  # waits while a test that runs alone holds it
        fcntl.flock(self.gate, fcntl.LOCK_UN)
        fcntl.flock(self.room, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(self.room, fcntl.LOCK_UN)

    def close(self) -> None:
        self.gate.close()
        self.room.close()
        for path in self.paths:  # the other workers hold their own open files
            path.unlink(missing_ok=True)


_started: list[tuple[WorkerRedis, Path]] = []
_turns: TakeTurns | None = None


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> Generator[None, Any, Any]:
    global _turns
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        _turns = TakeTurns(os.environ["PYTEST_XDIST_TESTRUNUID"])
        folder = Path(tempfile.mkdtemp(prefix=f"mymedic-test-{worker}-"))
        folder.chmod(0o755)  # servers' helpers (nginx's workers, postgres) may enter it
        redis = WorkerRedis(folder)
        redis.start()
        _started.append((redis, folder))
        os.environ["REDIS_URL"] = redis.url
        os.environ["MYMEDIC_LOCAL_DIR"] = str(folder / "local")
        # An explicit broker would be shared by every worker: derive it from REDIS_URL.
        os.environ.pop("CELERY_BROKER_URL", None)
    return (yield)


# Outermost (tryfirst), so that the wait for a turn is not counted by pytest-timeout.
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, Any, Any]:
    if _turns is None:
        return (yield)
    with _turns.alone() if runs_alone(item) else _turns.shared():
        return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _turns
    if _turns is not None:
        _turns.close()
        _turns = None
    while _started:
        redis, folder = _started.pop()
        with contextlib.suppress(OSError):
            redis.stop()
        shutil.rmtree(folder, ignore_errors=True)
