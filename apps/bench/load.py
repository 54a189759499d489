"""HTTP load against a real server process: closed-loop throughput and paced latency.

Each client thread keeps one HTTP/1.1 connection open, as an app or a browser would. Paced
runs measure from the moment a request was due, not from when a busy client got round to
sending it, so a stalled server shows up in the latency instead of hiding (coordinated
omission).
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apps.bench.measure import summary_ms, wait_for


@dataclass(frozen=True)
class Target:
    """Where request n goes: a tenant host, a token of that tenant, a path."""

    host: str
    token: str
    path: str


TargetFor = Callable[[int], Target]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory (VmHWM) of a live process, in MiB."""
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    """The resident memory (VmRSS) of a live process now, in MiB."""
    return _status_mb(pid, "VmRSS")


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    name: str

    def peak_rss_mb(self) -> float:
        """The largest peak among the process and its children (pool workers)."""
        pids = [self.popen.pid]
        children = Path(f"/proc/{self.popen.pid}/task/{self.popen.pid}/children")
        if children.exists():
            pids += [int(pid) for pid in children.read_text().split()]
        return max(peak_rss_mb(pid) for pid in pids)


# The server runs as in production: no DEBUG (which would keep every query in memory), and a
# per-user rate far above what one benchmark client sends, so throttling is paid but not hit.
SERVER_ENV = {"MYMEDIC_DEBUG": "0", "MYMEDIC_API_USER_RATE": "100000000/min"}


@contextmanager
def running(
    command: list[str],
    name: str,
    ready: Callable[[], bool] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Process]:
    popen = subprocess.Popen(  # noqa: S603  (our own interpreter and modules)
        command,
        env={**os.environ, **SERVER_ENV, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    process = Process(popen, name)
    try:
        if ready is not None and not wait_for(ready, 60):
            raise RuntimeError(f"{name} did not start")
        yield process
    finally:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(20)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


@contextmanager
def web_server() -> Iterator[tuple[Process, int]]:
    """One daphne process serving the project (the bench's baseline; the Procfile's nginx and
    gunicorn workers are compared with it in docs/PERFORMANCE.md, "Serving")."""
    port = free_port()

    def answers() -> bool:
        try:
            return Client(port).send("GET", Target("localhost", "", "/healthz"))[0] == 200
        except OSError:
            return False

    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    with running([*command, "mymedic.asgi:application"], "web", answers) as process:
        yield process, port


@dataclass
class Proxied:
    """nginx in front of gunicorn's uvicorn workers, as the Procfile runs them."""

    port: int  # nginx: where clients connect
    web: Process  # gunicorn's master
    nginx: Process

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.web.popen.pid}/task/{self.web.popen.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def memory(self) -> dict[str, Any]:
        """Resident memory of each web worker now, and the peak (VmHWM) of each web worker,
        gunicorn's master and nginx."""
        nginx = [self.nginx.popen.pid, *_children(self.nginx.popen.pid)]
        return {
            "web_workers_rss_mb": [rss_mb(pid) for pid in self.worker_pids()],
            "web_workers_peak_rss_mb": [peak_rss_mb(pid) for pid in self.worker_pids()],
            "gunicorn_master_peak_rss_mb": peak_rss_mb(self.web.popen.pid),
            "nginx_peak_rss_mb": [peak_rss_mb(pid) for pid in nginx],
        }


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in children.read_text().split()] if children.exists() else []


@contextmanager
def proxied_web(
    workers: int, *, connections: int = 4096, env: dict[str, str] | None = None
) -> Iterator[Proxied]:
    """nginx (mymedic/proxy.py) in front of gunicorn with `workers` uvicorn workers, each on a
    free loopback port; `connections` raises nginx's per-address and per-worker caps so one
    load generator may hold that many streams; `env` adds to the web process's environment."""
    from mymedic.proxy import ProxyConfig, write

    port, web_port = free_port(), free_port()
    here = Path(tempfile.mkdtemp(prefix="mymedic-bench-proxy-"))
    here.chmod(0o755)  # nginx's workers run as nobody when the bench runs as root
    (here / "static").mkdir(mode=0o755)
    config = ProxyConfig(
        port=port,
        upstream=f"127.0.0.1:{web_port}",
        directory=here / "nginx",
        static_root=here / "static",
        connections_per_address=connections,
        worker_connections=2 * connections + 64,
    )
    nginx_conf = write(config)
    web_env = {
        **(env or {}),
        "MYMEDIC_WEB_BIND": f"127.0.0.1:{web_port}",
        "MYMEDIC_WEB_WORKERS": str(workers),
        "MYMEDIC_TRUSTED_PROXIES": "127.0.0.1",
        "MYMEDIC_WEB_LOGLEVEL": "warning",
    }
    nginx_bin = shutil.which("nginx", path="/usr/sbin:/usr/bin") or "nginx"
    try:
        with (
            running(
                [sys.executable, "-m", "gunicorn", "-c", "python:mymedic.gunicorn"],
                "web",
                env=web_env,
            ) as web,
            running([nginx_bin, "-c", str(nginx_conf), "-g", "daemon off;"], "nginx") as nginx,
        ):
            proxied = Proxied(port, web, nginx)

            def answers() -> bool:
                probe = Client(port)
                try:
                    status = probe.status("GET", Target("localhost", "", "/healthz"))
                finally:
                    probe.close()
                return status == 200 and len(proxied.worker_pids()) == workers

            if not wait_for(answers, 90):
                raise RuntimeError("nginx and the web workers did not start")
            yield proxied
    finally:
        shutil.rmtree(here, ignore_errors=True)


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return round(float(number) * _WRK_UNITS[unit], 2)


def wrk(target: Target, port: int, *, connections: int, seconds: float) -> dict[str, Any]:
    """`wrk` (closed loop: `connections` keep-alive connections, one thread) on one path:
    requests per second, latency percentiles and non-2xx answers."""
    command = [
        shutil.which("wrk") or "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-H",
        f"Host: {target.host}",
    ]
    if target.token:
        command += ["-H", f"Authorization: Token {target.token}"]
    output = subprocess.run(  # noqa: S603  (wrk, with our own arguments)
        [*command, f"http://127.0.0.1:{port}{target.path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # wrk pads a figure in seconds with a space ("99%    1.48s ").
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    if "99" not in latency:  # no request answered: say what wrk said instead of a figure
        raise RuntimeError(f"wrk measured no latency on {target.path}:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)$", output, re.MULTILINE)
    return {
        "per_s": round(float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))),  # type: ignore[union-attr]
        "p50_ms": _wrk_ms(latency["50"]),
        "p90_ms": _wrk_ms(latency["90"]),
        "p99_ms": _wrk_ms(latency["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
        "connections": connections,
    }


def worker_command(
    *, loglevel: str = "warning", queues: str = "", purge: bool = False
) -> list[str]:
    """A Celery worker as benches and tests start one: this interpreter, the solo pool, none
    of the cluster chatter a lone worker does not need; `queues` comma-separated (default:
    the worker's own default queue)."""
    command = [sys.executable, "-m", "celery", "-A", "mymedic", "worker", "--pool", "solo"]
    command += ["--loglevel", loglevel, "--without-heartbeat", "--without-gossip"]
    command += [
        "--without-mingle",
        *(["-Q", queues] if queues else []),
        *(["--purge"] if purge else []),
    ]
    return command


@contextmanager
def celery_worker() -> Iterator[Process]:
    with running(worker_command(loglevel="error"), "worker") as process:
        yield process


class Client:
    """One keep-alive connection to the server (which routes by the Host header)."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def send(self, method: str, target: Target, body: Any = None) -> tuple[int, bytes]:
        headers = {"Host": target.host, "Content-Type": "application/json"}
        if target.token:
            headers["Authorization"] = f"Token {target.token}"
        payload = json.dumps(body) if body is not None else None
        try:
            self.connection.request(method, target.path, body=payload, headers=headers)
            response = self.connection.getresponse()
        except (http.client.HTTPException, OSError):
            self.connection.close()  # reconnects on the next request
            raise
        return response.status, response.read()

    def status(self, method: str, target: Target, body: Any = None) -> int:
        """The response status, or 0 when the connection failed."""
        try:
            return self.send(method, target, body)[0]
        except (http.client.HTTPException, OSError):
            return 0

    def close(self) -> None:
        self.connection.close()


@dataclass
class Outcome:
    samples: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, status: int, expected: int) -> None:
        with self.lock:
            self.samples.append(seconds)
            self.errors += status != expected
            self.statuses[status] = self.statuses.get(status, 0) + 1


def _on_connections(count: int, port: int, work: Callable[[Client], None]) -> float:
    """Runs `work` on `count` threads, each with its own connection; the seconds it took."""

    def run() -> None:
        client = Client(port)
        try:
            work(client)
        finally:
            client.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


class Ticket:
    """Hands out 0, 1, 2, … to threads, up to `limit`."""

    def __init__(self, limit: int) -> None:
        self.numbers = iter(range(limit))
        self.lock = threading.Lock()

    def take(self) -> int | None:
        with self.lock:
            return next(self.numbers, None)


def closed_loop(
    target_for: TargetFor, port: int, *, clients: int, seconds: float
) -> dict[str, Any]:
    """`clients` connections send requests back to back for `seconds`: the most it serves."""
    outcome = Outcome()
    deadline = time.perf_counter() + seconds
    ticket = Ticket(10**9)

    def work(client: Client) -> None:
        while time.perf_counter() < deadline and (n := ticket.take()) is not None:
            started = time.perf_counter()
            status = client.status("GET", target_for(n))
            outcome.add(time.perf_counter() - started, status, 200)

    elapsed = _on_connections(clients, port, work)
    return {
        **summary_ms(outcome.samples),
        "per_s": round(len(outcome.samples) / elapsed),
        "errors": outcome.errors,
        "clients": clients,
    }


def paced(target_for: TargetFor, port: int, *, rate: float, seconds: float) -> dict[str, Any]:
    """Requests due at a steady `rate`; latency counts from when each was due."""
    total = int(rate * seconds)
    start = time.perf_counter() + 0.1
    due = [start + n / rate for n in range(total)]
    outcome = Outcome()
    ticket = Ticket(total)

    def work(client: Client) -> None:
        while (n := ticket.take()) is not None:
            time.sleep(max(0.0, due[n] - time.perf_counter()))
            status = client.status("GET", target_for(n))
            outcome.add(time.perf_counter() - due[n], status, 200)

    _on_connections(8, port, work)
    return {**summary_ms(outcome.samples), "rate_per_s": rate, "errors": outcome.errors}


def post_all(
    target: Target, port: int, bodies: list[dict[str, Any]], *, clients: int
) -> dict[str, Any]:
    """POSTs every body once over `clients` connections; anything but a 201 is an error."""
    outcome = Outcome()
    ticket = Ticket(len(bodies))

    def work(client: Client) -> None:
        while (n := ticket.take()) is not None:
            started = time.perf_counter()
            status = client.status("POST", target, bodies[n])
            outcome.add(time.perf_counter() - started, status, 201)

    elapsed = _on_connections(clients, port, work)
    return {
        **summary_ms(outcome.samples),
        "per_s": round(len(bodies) / elapsed),
        "errors": outcome.errors,
        "statuses": {str(code): n for code, n in sorted(outcome.statuses.items())},
        "clients": clients,
    }
