"""Several cells of real processes on loopback behind the edge, for residency tests.

Each cell is its own PostgreSQL database (in the suite's cluster), its own Redis server, its own
web server (gunicorn) and Celery worker, and its own folder of local files; the global
directory is a third database; `manage.py edge` (nginx) routes every host to its cell. The
databases are cloned from one migrated database (quicker than migrating each). Everything
started here is stopped by its PID, and the databases dropped, when the deployment closes,
also after a failure.
"""

import contextlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.db import connection

from apps.bench.load import worker_command
from tests.faults.stack import Redis, free_port, wait_until
from tests.servers import stop

ROOT = Path(__file__).resolve().parents[2]
DIRECTORY_CELL = "in"


@dataclass
class Cell:
    name: str
    region: str
    database: str
    web_port: int
    redis: Redis
    env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def files(self) -> Path:
        return Path(self.env["MYMEDIC_LOCAL_DIR"]) / "cells" / self.name

    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout


@dataclass
class Answer:
    status: int
    body: Any


@dataclass
class Deployment:
    root: Path
    cells: dict[str, Cell]
    edge_port: int
    directory_database: str
    server: dict[str, str]  # host, port, user of the PostgreSQL cluster

    def call(
        self,
        method: str,
        host: str,
        path: str,
        body: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> Answer:
        """A request through the edge, as a client on the internet would send it."""
        headers = {"Host": host, "Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        conn = http.client.HTTPConnection("127.0.0.1", self.edge_port, timeout=60)
        try:
            conn.request(method, path, json.dumps(body) if body is not None else None, headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Answer(response.status, parsed)

    def connect(self, database: str) -> psycopg.Connection[Any]:
        return psycopg.connect(**self.server, dbname=database, autocommit=True)


def _url(server: dict[str, str], database: str) -> str:
    return f"postgres://{server['user']}@{server['host']}:{server['port']}/{database}"


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603


@contextlib.contextmanager
def deployment(regions: dict[str, str]) -> Iterator[Deployment]:
    """Cells named by `regions` (cell name -> region) behind one edge; the first one listed
    serves the public site and the directory API."""
    settings_dict = connection.settings_dict
    server = {
        "host": str(settings_dict["HOST"]),
        "port": str(settings_dict["PORT"]),
        "user": str(settings_dict["USER"]),
    }
    tag = uuid.uuid4().hex[:8]
    root = Path(tempfile.mkdtemp(prefix="mymedic-cells-"))
    root.chmod(0o755)  # nginx's workers (nobody, under root) read the static files and map
    base, directory = f"cells_{tag}_base", f"cells_{tag}_directory"
    databases = {name: f"cells_{tag}_{name.replace('-', '_')}" for name in regions}
    for name in regions:
        (root / name).mkdir()
    cells = {
        name: Cell(name, region, databases[name], free_port(), Redis(root / name))
        for name, region in regions.items()
    }
    cells_json = json.dumps(
        {
            cell.name: {
                "region": cell.region,
                "database_url": _url(server, cell.database),
                "url": f"http://127.0.0.1:{cell.web_port}",
                "capacity": 10,
            }
            for cell in cells.values()
        }
    )
    common = {
        **os.environ,
        "MYMEDIC_ENV": "local",
        "MYMEDIC_DEBUG": "false",
        "MYMEDIC_LOCAL_DIR": str(root),
        "MYMEDIC_CELLS_JSON": cells_json,
        "MYMEDIC_DIRECTORY_DATABASE_URL": _url(server, directory),
        "MYMEDIC_DIRECTORY_CELL": next(iter(cells)),
        "MYMEDIC_TRUSTED_PROXIES": "127.0.0.1",
        "MYMEDIC_STATIC_ROOT": str(root / "static"),
        "MYMEDIC_EDGE_DEBOUNCE_SECONDS": "0.2",
        "MYMEDIC_API_ANON_RATE": "100000/min",
    }
    admin = psycopg.connect(**server, dbname="postgres", autocommit=True)
    edge: subprocess.Popen[bytes] | None = None
    try:
        for name in (base, directory):
            admin.execute(f'CREATE DATABASE "{name}"')
        # One migrated database (its directory app recorded, its table in the directory's
        # database only), cloned for each cell.
        migrate = Cell("base", "in", base, 0, cells[next(iter(cells))].redis)
        migrate.env = {**common, "DATABASE_URL": _url(server, base), "MYMEDIC_CELL": "base",
                       "MYMEDIC_CELLS_JSON": json.dumps({"base": {"region": "in"}})}  # fmt: skip
        migrate.manage("setup_local", "--no-demo")
        for cell in cells.values():
            admin.execute(f'CREATE DATABASE "{cell.database}" TEMPLATE "{base}"')
        for cell in cells.values():
            cell.redis.start()
            cell.env = {
                **common,
                "MYMEDIC_CELL": cell.name,
                "DATABASE_URL": _url(server, cell.database),
                "REDIS_URL": cell.redis.url,
                "MYMEDIC_WEB_BIND": f"127.0.0.1:{cell.web_port}",
                "MYMEDIC_WEB_WORKERS": "1",
            }
            cell.files.mkdir(parents=True)
            cell.processes.append(
                _spawn(
                    [sys.executable, "-m", "gunicorn", "-c", "python:mymedic.gunicorn"],
                    cell.env,
                    root / f"web-{cell.name}.log",
                )  # fmt: skip
            )
            cell.processes.append(
                _spawn(
                    worker_command(
                        loglevel="info", queues="default,projections,notifications,reports"
                    ),
                    cell.env,
                    root / f"worker-{cell.name}.log",
                )  # fmt: skip
            )
        first = cells[next(iter(cells))]
        edge_port = free_port()
        edge = _spawn(
            [sys.executable, "manage.py", "edge", "--port", str(edge_port), "--dir",
             str(root / "edge")],
            first.env, root / "edge.log",
        )  # fmt: skip
        result = Deployment(root, cells, edge_port, directory, server)
        wait_until(lambda: _healthy(result), 90, "the cells' web servers and the edge to answer")
        yield result
    finally:
        if edge is not None:
            stop(edge, 30)
        for cell in cells.values():
            for process in reversed(cell.processes):
                stop(process, 30)
            cell.redis.stop()
        for name in [*databases.values(), base, directory]:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        shutil.rmtree(root, ignore_errors=True)


def _healthy(deployment: Deployment) -> bool:
    for cell in deployment.cells.values():
        if any(process.poll() is not None for process in cell.processes):
            raise AssertionError(f"a process of cell {cell.name} exited; see {deployment.root}")
        conn = http.client.HTTPConnection("127.0.0.1", cell.web_port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status != 200:
                return False
        except OSError:
            return False
        finally:
            conn.close()
    try:
        return deployment.call("GET", "localhost", "/healthz").status == 200
    except OSError:
        return False
