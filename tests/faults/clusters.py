"""Throw-away PostgreSQL clusters and the app pointed at them, for the drills that start
their own servers (restore, failover). Every server goes in the `clusters` fixture's list
and is stopped by its postmaster's PID after the test, also on failure.

Their clusters start from one migrated image (`MigratedImage`): a data directory that
`initdb` made and `migrate_all` migrated once per test process, copied for each cluster
(`cp --reflink=auto`, about a second) instead of migrating every cluster again (most of a
minute, more on a loaded machine). Each copy is a cluster of its own: its own files, port and
settings; only its starting point is shared."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from apps.tenants.backups import pg_tool
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
FAULTS = Path(__file__).resolve().parent


def as_postgres(*args: str | Path) -> list[str]:
    command = [str(arg) for arg in args]
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def run(args: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> str:
    done = subprocess.run(
        args, env=env, cwd="/", capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args[:4]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


class Cluster:
    """A PostgreSQL server this test started; stopped by its postmaster's PID."""

    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data, port

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/mymedic"

    def pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        return int(pidfile.read_text().split()[0]) if pidfile.exists() else None

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
            deadline = time.monotonic() + 15
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL to the postmaster and every process of the cluster at once: the server
        is gone as with its machine, nothing is flushed or shut down."""
        pid = self.pid()
        if pid is None:
            return
        children = Path(f"/proc/{pid}/task/{pid}/children")
        pids = [pid, *(int(child) for child in children.read_text().split())]
        for each in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(each, signal.SIGKILL)

    def query(self, sql: str, database: str = "mymedic") -> list[tuple[Any, ...]]:
        url = self.url.rsplit("/", 1)[0] + f"/{database}"
        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(sql)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def clinic_day(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = run([sys.executable, str(FAULTS / "clinic_day.py"), *args], env=env)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


# Run in a subprocess against the image's cluster: every schema migrated as a deploy does it,
# and one spare schema made as the upkeep keeps them, which the copy's one sign-up claims.
MIGRATE_ALL = (
    "import django; django.setup(); from apps.tenants.schemas import migrate_all; migrate_all(); "
    "from apps.tenants.commands import spare_schemas_top_up; "
    "assert spare_schemas_top_up(actor=None, target=1).ready == 1"
)


@dataclass(frozen=True)
class MigratedImage:
    """A stopped cluster's data directory with the app's database `mymedic` migrated
    (`migrate_all`: the public schema, the template schema, the spare schema recipe), one
    spare schema ready and no tenant, and the PostgreSQL programs that made it."""

    data: Path
    bin: Path

    @classmethod
    def build(cls, folder: Path, env: dict[str, str]) -> "MigratedImage":
        """initdb in `folder`, then `migrate_all` with the app environment `env`; the server
        is stopped cleanly (a checkpoint) so that a copy starts without recovery."""
        image = cls(folder / "data", Path(pg_tool("initdb")).parent)
        run(as_postgres(image.bin / "initdb", "-D", image.data, "-A", "trust", "-U", "postgres",
                        "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"))  # fmt: skip
        cluster = Cluster(image.data, free_port())
        options = f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {image.data} -c fsync=off"
        run(as_postgres(image.bin / "pg_ctl", "-D", image.data, "-l", folder / "image.log", "-w",
                        "-o", options, "start"))  # fmt: skip
        try:
            cluster.query("CREATE DATABASE mymedic", database="postgres")
            # A guard against a hang only: the build runs outside any test's time limit, once,
            # and took 93-106 s at load 13-21 and over 180 s at load 20-25 on 2 shared cores.
            run([sys.executable, "-c", MIGRATE_ALL], env={**env, "DATABASE_URL": cluster.url},
                timeout=600)  # fmt: skip
        finally:
            run(as_postgres(image.bin / "pg_ctl", "-D", image.data, "-m", "fast", "-w", "stop"))
        return image

    def copy_to(self, data: Path) -> None:
        """A new cluster's data directory at `data` (which must not exist), owner and modes
        kept; blocks are shared until written where the file system can (reflink)."""
        run(["cp", "-a", "--reflink=auto", str(self.data), str(data)])
