"""A whole MyMedic stack of real processes on loopback, for breaking one part at a time.

Its own PostgreSQL cluster (a copy of the migrated image, tests/faults/clusters.py) and Redis
on free ports (never the suite's), the web server (daphne, like the `Procfile`) and a Celery
worker as subprocesses. Everything started here is
stopped by its PID (the worker by its own process group, it forks its pool) when the stack
closes, also after a failure.
"""

import contextlib
import glob
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

if TYPE_CHECKING:  # tests/faults/clusters.py imports the app, which this module must not
    from tests.faults.clusters import MigratedImage

ROOT = Path(__file__).resolve().parents[2]

# What the fault tests measured, printed in the run's summary (tests/faults/conftest.py).
TIMINGS: dict[str, float] = {}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> float:
    """Polls `check` until it holds; the seconds it took. Fails after `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def _stop(process: subprocess.Popen[Any] | None, group: bool = False) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


class Postgres:
    """A throw-away cluster, run as the postgres user when we are root (like scripts/local.sh):
    a new one (initdb), or a copy of a migrated image."""

    def __init__(self, root: Path, image: "MigratedImage | None" = None) -> None:
        self.port = free_port()
        self.dir = root / "postgres"
        self.data = self.dir / "data"
        newest = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version)[-1]
        self.bin = str(image.bin) if image else newest
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.dir.mkdir()
        if self.as_pg:
            shutil.chown(self.dir, "postgres")
        if image is None:
            self._pg(["initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                      "--encoding=UTF8", "--locale=C", "--no-sync"])  # fmt: skip
        else:
            image.copy_to(self.data)

    def _pg(self, args: list[str]) -> None:
        subprocess.run(
            [*self.as_pg, f"{self.bin}/{args[0]}", *args[1:]],
            cwd="/", check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/mymedic"

    def start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
                   "-c fsync=off -c max_connections=100 -c wal_level=logical")  # fmt: skip
        self._pg(["pg_ctl", "-w", "-D", str(self.data), "-l", str(self.dir / "log"),
                  "-o", options, "start"])  # fmt: skip

    def pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        return int(pidfile.read_text().split()[0]) if pidfile.exists() else None

    def stop(self) -> None:
        if (pid := self.pid()) is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)  # "fast" shutdown: sessions are cut, like a restart
        try:
            wait_until(lambda: not (self.data / "postmaster.pid").exists(), 30, "postgres to stop")
        except AssertionError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)  # "immediate" shutdown
            raise

    def connect(self, dbname: str = "mymedic") -> psycopg.Connection[Any]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                               dbname=dbname, autocommit=True)  # fmt: skip


def _version(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in Path(path).parent.name.split(".") if part.isdigit())


REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class Redis:
    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.dir = root / "redis"
        self.dir.mkdir()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self._answers, 10, "redis to start")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        _stop(self.process)


class HangingProvider:
    """An "SMS provider" that accepts connections and never answers."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = int(self.server.getsockname()[1])
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/messages"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            self._held.append(client)

    def close(self) -> None:
        self.server.close()
        for client in self._held:
            client.close()


@dataclass
class Answer:
    status: int
    body: Any
    seconds: float


class Stream:
    """Server-Sent Events, read by a thread as they come."""

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.response = response
        self.seen = b""
        self.closed = False
        self.arrived = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = self.response.read1(65536)
            except (OSError, ValueError, AttributeError, http.client.HTTPException):
                chunk = b""  # closed under it (the stream ends with its test)
            with self.arrived:
                self.seen += chunk
                self.closed = not chunk
                self.arrived.notify_all()
            if not chunk:
                return

    def read_until(self, marker: bytes, seconds: float) -> bytes:
        """Waits until `marker` arrives (consuming up to it); fails after `seconds`."""
        deadline = time.monotonic() + seconds
        with self.arrived:
            while marker not in self.seen:
                left = deadline - time.monotonic()
                assert left > 0, f"no {marker!r} on the stream: {self.seen[-300:]!r}"
                assert not self.closed, "the stream closed"
                self.arrived.wait(left)
            found, _, self.seen = self.seen.partition(marker)
        return found + marker


@dataclass
class Stack:
    root: Path
    postgres: Postgres
    redis: Redis
    provider: HangingProvider
    env: dict[str, str] = field(default_factory=dict)
    web: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    web_port: int = 0
    tenant: dict[str, Any] = field(default_factory=dict)

    # --- processes ------------------------------------------------------------------------
    def manage(self, *args: str, script: str | None = None) -> str:
        command = [sys.executable, "-c", script] if script else [sys.executable, "manage.py", *args]
        done = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=180)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def launch_web(self) -> None:
        """Starts the web server without waiting for it (`wait_for_web`)."""
        self.web_port = self.web_port or free_port()
        log = open(self.root / "web.log", "ab")  # noqa: SIM115  (the process owns it)
        self.web = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.web_port),
             "--access-log", "/dev/null", "mymedic.asgi:application"],
            cwd=ROOT, env=self.env, stdout=log, stderr=log,
        )  # fmt: skip
        log.close()

    def wait_for_web(self) -> None:
        wait_until(lambda: self.call("GET", "/healthz").status == 200, 30, "the web server")

    def start_worker(self) -> float:
        """Starts the worker; the seconds until it said it was ready."""
        started = time.monotonic()
        self.launch_worker()
        self.wait_for_worker()
        return time.monotonic() - started

    def launch_worker(self) -> None:
        """Starts the worker without waiting for it (`wait_for_worker`)."""
        log_path = self.root / "worker.log"
        log_path.write_bytes(b"")
        log = open(log_path, "ab")  # noqa: SIM115
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "mymedic", "worker", "-l", "info",
             "--concurrency", "2", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        log.close()

    def wait_for_worker(self) -> None:
        log_path = self.root / "worker.log"
        wait_until(lambda: b" ready." in log_path.read_bytes(), 60, "the worker")

    def freeze_worker(self) -> None:
        """SIGSTOP to the worker and its pool: it holds what it has fetched and does nothing."""
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGSTOP)

    def kill_worker(self) -> None:
        """SIGKILL to the worker and its pool (its own process group), nothing graceful."""
        _stop(self.worker, group=True)

    def close(self) -> None:
        """Stops everything, each part even when stopping another failed."""
        with contextlib.ExitStack() as stops:
            stops.callback(self.provider.close)
            stops.callback(self.postgres.stop)
            stops.callback(self.redis.stop)
            stops.callback(self.kill_worker)
            stops.callback(_stop, self.web)

    # --- HTTP -----------------------------------------------------------------------------
    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 15
    ) -> Answer:
        headers = {"Host": f"{self.tenant.get('slug', 'x')}.localhost"}
        if self.tenant.get("token"):
            headers["Authorization"] = f"Token {self.tenant['token']}"
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body), "application/json"
        connection = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=timeout)
        started = time.monotonic()
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            status = response.status
        except OSError:
            return Answer(0, None, time.monotonic() - started)
        finally:
            connection.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Answer(status, parsed, time.monotonic() - started)

    @contextlib.contextmanager
    def board_stream(self) -> Iterator["Stream"]:
        """The branch's live stream as the console's board opens it (signed in by cookie)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=300)
        try:
            connection.request("GET", f"/events/branches/{self.tenant['branch']}/", headers={
                "Host": f"{self.tenant['slug']}.localhost",
                "Cookie": f"sessionid={self.tenant['session']}",
            })  # fmt: skip
            response = connection.getresponse()
            assert response.status == 200, response.status
            stream = Stream(response)
            stream.read_until(b"stream-open", 10)
            yield stream
        finally:
            connection.close()

    # --- the database, read directly --------------------------------------------------------
    def count(self, table: str, where: str = "true") -> int:
        with self.postgres.connect() as db:
            db.execute(f'SET search_path TO "{self.tenant["schema"]}"')
            row = db.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()  # noqa: S608
        return int(row[0]) if row else 0


# Run in a subprocess against the stack's migrated database: one tenant, a doctor working
# every day, a patient and an owner's API token, as JSON on stdout.
TENANT_SCRIPT = textwrap.dedent(
    """
    import json, django
    django.setup()
    from decimal import Decimal
    from django.test import Client
    from django_tenants.utils import schema_context
    from apps.clinic import tokens
    from apps.clinic.models import Branch, User
    from apps.scheduling import commands
    from apps.tenants.commands import tenant_onboard

    tenant = tenant_onboard(
        verified=True, clinic_name="Fault Clinic", slug="fault", kind="clinic",
        owner_name="Fault Owner", owner_email="owner@fault.example.com",
        owner_password="correct-horse-battery-9",
    ).tenant
    with schema_context(tenant.schema_name):
        branch = Branch.objects.get()
        doctor = commands.doctor_add(
            actor=None, branch=branch, name="Dr. Fault", specialty="GP", slot_minutes=15,
            consultation_fee=Decimal("500"),
            weekly_hours=[{"weekday": d, "start": "06:00", "end": "22:00"} for d in range(7)],
        )
        patients = [
            commands.patient_register(actor=None, name=f"Fault Patient {i}",
                                      phone=f"+9198000{i:05d}").pk
            for i in range(3)
        ]
        owner = User.objects.get(email="owner@fault.example.com")
        token = tokens.mint(owner)
        browser = Client()
        browser.force_login(owner)
        print(json.dumps({
            "slug": tenant.slug, "schema": tenant.schema_name, "branch": branch.pk,
            "doctor": doctor.pk, "patients": patients, "token": token,
            "timezone": branch.timezone, "session": browser.cookies["sessionid"].value,
        }))
    """
)


@contextlib.contextmanager
def running_stack(image: "MigratedImage") -> Iterator[Stack]:
    """The stack on a copy of `image` (its database migrated, no tenant yet)."""
    root = Path(tempfile.mkdtemp(prefix="mymedic-fault-", dir="/tmp"))
    root.chmod(0o755)  # the postgres user must reach its data directory
    stack = Stack(root, Postgres(root, image), Redis(root), HangingProvider())
    try:
        stack.postgres.start()
        stack.redis.start()
        stack.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mymedic.settings",
            "DATABASE_URL": stack.postgres.url,
            "REDIS_URL": stack.redis.url,
            "MYMEDIC_ENV": "local",
            "MYMEDIC_DEBUG": "false",
            "MYMEDIC_LOCAL_DIR": str(root / "local"),
            "MYMEDIC_NOTIFY_SMS_URL": stack.provider.url,
            "MYMEDIC_NOTIFY_HTTP_TIMEOUT": "2",
        }
        for inherited in ("CELERY_BROKER_URL", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST"):
            stack.env.pop(inherited, None)
        # The web server and the worker start while the tenant is made (each waited for
        # after it, with its whole time limit): three start-ups overlap, not one after another.
        stack.launch_web()
        stack.launch_worker()
        stack.tenant = json.loads(stack.manage(script=TENANT_SCRIPT).strip().splitlines()[-1])
        stack.wait_for_web()
        stack.wait_for_worker()
        yield stack
    finally:
        stack.close()
        shutil.rmtree(root, ignore_errors=True)
