"""The restore drill: a cluster archiving its WAL is restored to a moment, and the restored
tenant holds exactly the events acknowledged before it, with its audit trail and read
models intact.

The test starts its own PostgreSQL (as the postgres user, on free loopback ports, under
/tmp) through `scripts/backup.sh`, drives the app in subprocesses pointed at it, and stops
every server it started by PID, also on failure.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from django.conf import settings

from apps.tenants.backups import pg_tool
from mymedic.settings import redis_db_url

ROOT = Path(__file__).resolve().parents[2]
BACKUP = ROOT / "scripts" / "backup.sh"
FAULTS = Path(__file__).resolve().parent
# Short, so the drill does not wait for the archive; production uses 60 s (docs/OPERATIONS.md).
ARCHIVE_TIMEOUT = 1
SLUG = "drill"

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.timeout(240)]


def _as_postgres(*args: str | Path) -> list[str]:
    command = [str(arg) for arg in args]
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _run(args: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> str:
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

    def query(self, sql: str, database: str = "mymedic") -> list[tuple[Any, ...]]:
        url = self.url.rsplit("/", 1)[0] + f"/{database}"
        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(sql)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []


@pytest.fixture
def drill_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mymedic-drill-", dir="/tmp"))
    path.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(path, "postgres")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def clusters() -> Iterator[list[Cluster]]:
    """Every cluster the test starts goes in this list and is stopped after it."""
    started: list[Cluster] = []
    try:
        yield started
    finally:
        for cluster in started:
            cluster.stop()


@pytest.fixture
def app_env(drill_dir: Path) -> Iterator[dict[str, str]]:
    """The app's environment for subprocesses. Projection runs they request go to a broker
    database of their own, which no worker of the suite reads, emptied after; their cache
    keys carry the drill's schema, which no other test uses."""
    broker_url = redis_db_url(os.environ.get("REDIS_URL", settings.REDIS_URL), 13)
    env = {
        **os.environ,
        "MYMEDIC_ENV": "local",
        "MYMEDIC_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "mymedic.settings",
        "CELERY_BROKER_URL": broker_url,
        "MYMEDIC_LOCAL_DIR": str(drill_dir / "app"),
        "PYTHONPATH": str(ROOT),
    }
    try:
        yield env
    finally:
        redis.Redis.from_url(broker_url).flushdb()


def _start_archiving_cluster(drill_dir: Path, archive: Path) -> Cluster:
    data = drill_dir / "primary"
    _run(
        _as_postgres(pg_tool("initdb"), "-D", data, "-A", "trust", "-U", "postgres",
                     "--encoding=UTF8", "--locale=C.UTF-8")
    )  # fmt: skip
    archiving = _run([str(BACKUP), "archive-settings", "--archive", str(archive),
                      "--timeout", str(ARCHIVE_TIMEOUT)]).strip()  # fmt: skip
    cluster = Cluster(data, _free_port())
    # fsync=off: a throwaway cluster on a shared machine; what is archived does not change.
    options = f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {data} -c fsync=off {archiving}"
    _run(_as_postgres(pg_tool("pg_ctl"), "-D", data, "-l", drill_dir / "primary.log", "-w",
                      "-o", options, "start"))  # fmt: skip
    return cluster


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _clinic_day(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = _run([sys.executable, str(FAULTS / "clinic_day.py"), *args], env=env)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _archived_past(primary: Cluster, timeout: float) -> float:
    """Waits until the WAL segment holding everything committed so far is archived (by
    archive_timeout, not forced); returns how long that took."""
    started = time.monotonic()
    (current,) = primary.query("SELECT pg_walfile_name(pg_current_wal_lsn())")[0]
    while time.monotonic() - started < timeout:
        (last,) = primary.query("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")[0]
        if last[:24] >= current:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"segment {current} not archived within {timeout} s")


def test_a_cluster_restored_to_a_moment_has_exactly_the_events_acknowledged_before_it(
    drill_dir: Path, clusters: list[Cluster], app_env: dict[str, str]
) -> None:
    archive = drill_dir / "wal"
    primary = _start_archiving_cluster(drill_dir, archive)
    clusters.append(primary)
    primary.query("CREATE DATABASE mymedic", database="postgres")
    env = {**app_env, "DATABASE_URL": primary.url}
    _run([sys.executable, "-c", "import django; django.setup(); "
          "from apps.tenants.schemas import migrate_all; migrate_all()"], env=env)  # fmt: skip
    _clinic_day(env, "prepare", SLUG, "--before", "2")

    _run([str(BACKUP), "base", "--port", str(primary.port), "--out", str(drill_dir / "base")])
    written = _clinic_day(env, "visits", SLUG, "--first", "2", "--before", "4", "--after", "3")
    window = _archived_past(primary, timeout=30)

    restored = Cluster(drill_dir / "restored", _free_port())
    clusters.append(restored)
    started = time.monotonic()
    out = _run(
        [str(BACKUP), "restore", "--base", str(drill_dir / "base"), "--archive", str(archive),
         "--datadir", str(restored.data), "--port", str(restored.port),
         "--to", written["moment"], "--wait", "60", "--server-options", "-c fsync=off"]
    )  # fmt: skip
    took = time.monotonic() - started
    assert "promoted" in out and "recovery stopping before commit" in out
    print(f"archived {window:.1f} s after the last write; restored and promoted in {took:.1f} s")

    events = restored.query(
        f"SELECT position, stream, version, type FROM {SLUG}.eventstore_event ORDER BY position"  # noqa: S608
    )
    assert [list(row) for row in events] == written["before"]
    assert written["after"] and written["after"][0][0] > written["before"][-1][0]
    assert restored.query("SELECT pg_is_in_recovery()") == [(False,)]

    env = {**app_env, "DATABASE_URL": restored.url}
    audit = _manage(env, "verify_audit", "--tenant", SLUG)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert audit.stdout.startswith(f"{SLUG}: ok, ")
    replay = _manage(env, "replay", "--check", "--tenant", SLUG)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "Every read model matches a rebuild." in replay.stdout
