"""Real processes for end-to-end tests: the ASGI server on the test database, alone (daphne)
or as deployed (nginx in front of gunicorn's uvicorn workers)."""

import http.client
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apps.bench.load import worker_command
from mymedic.proxy import ProxyConfig, write
from tests.clocked import SHIFT
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


def clocked(command: list[str], env: dict[str, str]) -> list[str]:
    """`python -m MODULE …` on the clock of `env` when it carries one (tests.clocked)."""
    if SHIFT not in env:
        return command
    python, m, *rest = command
    assert m == "-m", command
    return [python, "-m", "tests.clocked", *rest]


def healthz(port: int) -> int:
    """The status of GET /healthz, or 0 when nothing answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


def stop(process: subprocess.Popen[Any], seconds: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `seconds`."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Proxied:
    port: int  # nginx: where clients connect
    web_port: int  # gunicorn, behind it
    web: subprocess.Popen[Any]  # gunicorn's master process
    web_log: Path  # gunicorn's and the application's output
    access_log: Path  # nginx's
    static_root: Path

    def web_workers(self) -> set[int]:
        """The pids of gunicorn's worker processes now."""
        children = Path(f"/proc/{self.web.pid}/task/{self.web.pid}/children")
        return {int(pid) for pid in children.read_text().split()} if children.exists() else set()


@contextmanager
def proxied_server(
    *, workers: int = 2, env: dict[str, str] | None = None, **proxy: Any
) -> Iterator[Proxied]:
    """nginx (mymedic/proxy.py; `proxy` overrides its deadlines and caps) in front of gunicorn
    with `workers` uvicorn workers, as the Procfile runs them, against the test database."""
    port, web_port = free_port(), free_port()
    # nginx's workers run as nobody when the suite runs as root: the folder must be theirs
    # to enter (pytest's tmp_path is private to its owner).
    here = Path(tempfile.mkdtemp(prefix="mymedic-proxy-"))
    here.chmod(0o755)
    static_root = here / "static"
    static_root.mkdir(mode=0o755)
    web_log = here / "web.log"
    config = ProxyConfig(
        port=port,
        upstream=f"127.0.0.1:{web_port}",
        directory=here / "nginx",
        static_root=static_root,
        **proxy,
    )
    nginx_conf = write(config)
    processes: list[tuple[subprocess.Popen[Any], float]] = []
    try:
        with web_log.open("w") as sink:
            web = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "python:mymedic.gunicorn"],
                env=subprocess_env(
                    MYMEDIC_WEB_BIND=f"127.0.0.1:{web_port}",
                    MYMEDIC_WEB_WORKERS=str(workers),
                    MYMEDIC_TRUSTED_PROXIES="127.0.0.1",
                    **(env or {}),
                ),
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        processes.append((web, 40))
        nginx = subprocess.Popen(
            [shutil.which("nginx", path="/usr/sbin:/usr/bin") or "nginx", "-c", str(nginx_conf),
             "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        processes.append((nginx, 10))
        wait_until(lambda: healthz(port) == 200, 60, "nginx and the web workers")
        yield Proxied(
            port=port,
            web_port=web_port,
            web=web,
            web_log=web_log,
            access_log=config.directory / "access.log",
            static_root=static_root,
        )
    finally:
        for process, seconds in reversed(processes):
            stop(process, seconds)
        shutil.rmtree(here, ignore_errors=True)


@contextmanager
def asgi_server(**env: str) -> Iterator[int]:
    """daphne serving the project on a free port, against the test database."""
    port = free_port()
    server = subprocess.Popen(
        clocked(
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
            env,
        ),  # fmt: skip
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
        clocked(worker_command(loglevel="info", purge=True), env),
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
