"""Throw-away PostgreSQL clusters and the app pointed at them, for the drills that start
their own servers (restore, failover). Every server goes in the `clusters` fixture's list
and is stopped by its postmaster's PID after the test, also on failure."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

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
