"""The restore drill: a cluster archiving its WAL is restored to a moment, and the restored
tenant holds exactly the events acknowledged before it, with its audit trail and read
models intact.

The test starts its own PostgreSQL (as the postgres user, on free loopback ports, under
/tmp; a copy of the migrated image, tests/faults/clusters.py) with archiving settings from
`scripts/backup.sh`, drives the app in subprocesses pointed at it, and stops every server it
started by PID, also on failure.
"""

import time
from pathlib import Path

import pytest

from tests.faults.clusters import Cluster, MigratedImage, as_postgres, clinic_day, manage, run
from tests.servers import free_port

BACKUP = Path(__file__).resolve().parents[2] / "scripts" / "backup.sh"
# Short, so the drill does not wait for the archive; production uses 60 s (docs/OPERATIONS.md).
ARCHIVE_TIMEOUT = 1
SLUG = "drill"

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.timeout(240)]


def _start_archiving_cluster(drill_dir: Path, archive: Path, image: MigratedImage) -> Cluster:
    """A copy of the migrated image, archiving its WAL from its first start."""
    data = drill_dir / "primary"
    image.copy_to(data)
    archiving = run([str(BACKUP), "archive-settings", "--archive", str(archive),
                      "--timeout", str(ARCHIVE_TIMEOUT)]).strip()  # fmt: skip
    cluster = Cluster(data, free_port())
    # fsync=off: a throwaway cluster on a shared machine; what is archived does not change.
    options = f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {data} -c fsync=off {archiving}"
    run(as_postgres(image.bin / "pg_ctl", "-D", data, "-l", drill_dir / "primary.log", "-w",
                      "-o", options, "start"))  # fmt: skip
    return cluster


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
    drill_dir: Path, clusters: list[Cluster], app_env: dict[str, str], migrated_image: MigratedImage
) -> None:
    archive = drill_dir / "wal"
    primary = _start_archiving_cluster(drill_dir, archive, migrated_image)
    clusters.append(primary)
    env = {**app_env, "DATABASE_URL": primary.url}
    clinic_day(env, "prepare", SLUG, "--before", "2")

    run([str(BACKUP), "base", "--port", str(primary.port), "--out", str(drill_dir / "base")])
    written = clinic_day(env, "visits", SLUG, "--first", "2", "--before", "4", "--after", "3")
    window = _archived_past(primary, timeout=30)

    restored = Cluster(drill_dir / "restored", free_port())
    clusters.append(restored)
    started = time.monotonic()
    out = run(
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
    audit = manage(env, "verify_audit", "--tenant", SLUG)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert audit.stdout.startswith(f"{SLUG}: ok, ")
    replay = manage(env, "replay", "--check", "--tenant", SLUG)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "Every read model matches a rebuild." in replay.stdout
