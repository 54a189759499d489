"""Real processes for end-to-end tests: the ASGI server on the test database."""

import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tests.conftest import subprocess_env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def asgi_server(**env: str) -> Iterator[int]:
    """daphne serving the project on a free port, against the test database."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "mymedic.asgi:application",
        ],
        env=subprocess_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def answers() -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    try:
        wait_until(answers, 30, "the ASGI server")
        yield port
    finally:
        server.terminate()
        server.wait(10)


@contextmanager
def celery_worker(**env: str) -> Iterator[None]:
    """A Celery worker (solo pool) on the test database and the suite's Redis, for tests whose
    server queues work (emails leave from tasks). It first drops what earlier tests left in
    the queue (their tenants are gone). Stopped by its PID."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "mymedic", "worker", "--pool", "solo", "--purge",
         "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=subprocess_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.stdout is not None:
            line = worker.stdout.readline()
            if not line or " ready." in line:
                break
        assert worker.poll() is None, "the worker did not start"
        yield
    finally:
        worker.terminate()
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)
        if worker.stdout is not None:
            worker.stdout.close()
