"""Failover with synchronous replication: the primary is killed under a booking load, the
streaming standby is promoted, the app finds it through its list of hosts, and every booking,
event and audit entry acknowledged before the kill is there (RPO 0). The recovery time (kill
→ first booking acknowledged by the promoted standby) is measured and printed.

The test starts both servers itself (as the postgres user, on free loopback ports, under
/tmp; the primary a copy of the migrated image, tests/faults/clusters.py), drives the app in
a subprocess pointed at them, and stops every server by PID, also on failure.
"""

import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.faults.clinic_day import FIRST_DAY, SLOTS_PER_DAY
from tests.faults.clusters import (
    FAULTS,
    Cluster,
    MigratedImage,
    as_postgres,
    clinic_day,
    manage,
    run,
)
from tests.servers import free_port, wait_until

SLUG = "failover"
STANDBY = "mymedic_standby"

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.timeout(300)]


def start(cluster: Cluster, image: MigratedImage, log: Path, *options: str) -> None:
    settings = f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {cluster.data} " + " ".join(
        options
    )
    run(as_postgres(image.bin / "pg_ctl", "-D", cluster.data, "-l", log, "-w", "-o", settings,
                    "start"))  # fmt: skip


def visit_start(number: int) -> datetime:
    """When `clinic_day.py loop` books visit `number`."""
    day, slot = divmod(number, SLOTS_PER_DAY)
    return FIRST_DAY + timedelta(days=day, minutes=30 * slot)


def replication_state(primary: Cluster) -> list[tuple[Any, ...]]:
    return primary.query(
        "SELECT application_name, state, sync_state FROM pg_stat_replication"  # noqa: S608
    )


class Loader:
    """`clinic_day.py loop` in a subprocess: a visit booked after another, each acknowledged
    visit a JSON line, collected by a thread."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and script)
            [sys.executable, str(FAULTS / "clinic_day.py"), "loop", SLUG],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.acks: list[dict[str, Any]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                self.acks.append(json.loads(line))

    def after(self, moment: float) -> list[dict[str, Any]]:
        return [ack for ack in self.acks if ack["at"] > moment]

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)
        self.reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def test_a_promoted_synchronous_standby_has_every_acknowledged_booking(
    drill_dir: Path, clusters: list[Cluster], app_env: dict[str, str], migrated_image: MigratedImage
) -> None:
    image = migrated_image
    primary = Cluster(drill_dir / "primary", free_port())
    image.copy_to(primary.data)
    start(primary, image, drill_dir / "primary.log", "-c wal_level=replica", "-c max_wal_senders=4")
    clusters.append(primary)
    env = {**app_env, "DATABASE_URL": primary.url}
    clinic_day(env, "prepare", SLUG)

    # The standby: a base backup of the primary that streams its WAL, named for the primary's
    # synchronous_standby_names; from then on a commit is acknowledged only once the standby
    # has it.
    standby = Cluster(drill_dir / "standby", free_port())
    run(as_postgres(image.bin / "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port),
                    "-U", "postgres", "-D", standby.data, "-X", "stream", "-R",
                    "--checkpoint=fast"))  # fmt: skip
    conninfo = f"host=127.0.0.1 port={primary.port} user=postgres application_name={STANDBY}"
    run(as_postgres("sh", "-c", f"echo \"primary_conninfo = '{conninfo}'\" >> "
                    f"{standby.data}/postgresql.auto.conf"))  # fmt: skip
    start(standby, image, drill_dir / "standby.log")
    clusters.append(standby)
    primary.query(f"ALTER SYSTEM SET synchronous_standby_names = '{STANDBY}'")
    primary.query("SELECT pg_reload_conf()")
    wait_until(
        lambda: replication_state(primary) == [(STANDBY, "streaming", "sync")],
        60,
        "the standby to stream synchronously",
    )

    # The app knows both servers; libpq connects to the one that takes writes.
    hosts = f"127.0.0.1:{primary.port},127.0.0.1:{standby.port}"
    both = f"postgres://postgres@{hosts}/mymedic?target_session_attrs=read-write"
    loader = Loader({**app_env, "DATABASE_URL": both, "MYMEDIC_DB_POOL": "0"})
    try:
        wait_until(lambda: len(loader.acks) >= 20, 120, "twenty visits booked on the primary")
        killed_at = time.time()
        primary.kill()
        promoted = standby.query("SELECT pg_promote(true, 60)", database="postgres")
        wait_until(lambda: len(loader.after(killed_at)) >= 10, 120, "visits on the new primary")
    finally:
        loader.stop()
    recovery = loader.after(killed_at)[0]["at"] - killed_at
    acknowledged = [ack for ack in loader.acks if ack["at"] <= killed_at]

    assert promoted == [(True,)]
    assert standby.query("SELECT pg_is_in_recovery()") == [(False,)]
    # Every visit acknowledged before the kill is on the promoted standby: its booking, its
    # events up to the head the app saw, and the audit entry of each of those events.
    starts = {
        row[0]
        for row in standby.query(f"SELECT start FROM {SLUG}.scheduling_appointment")  # noqa: S608
    }
    positions = {
        row[0]
        for row in standby.query(f"SELECT position FROM {SLUG}.eventstore_event")  # noqa: S608
    }
    audited = {
        row[0]
        for row in standby.query(
            f"SELECT target FROM {SLUG}.audit_auditentry WHERE target LIKE 'event:%'"  # noqa: S608
        )
    }
    last_head = acknowledged[-1]["head"]
    assert len(acknowledged) >= 20
    assert {visit_start(ack["visit"]) for ack in acknowledged} <= starts
    assert {ack["head"] for ack in acknowledged} <= positions
    assert {f"event:{position}" for position in positions if position <= last_head} <= audited
    assert max(positions) > last_head  # and the new primary took bookings after the kill
    audit = manage({**app_env, "DATABASE_URL": standby.url}, "verify_audit", "--tenant", SLUG)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    print(
        f"failover: {len(acknowledged)} visits acknowledged before the kill, all on the promoted "
        f"standby (RPO 0); first booking on it {recovery:.2f} s after the kill (RTO)"
    )
