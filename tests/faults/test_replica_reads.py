"""Reading from a real streaming standby: a base backup of the test's own PostgreSQL cluster
that streams its WAL, configured as the `replica` alias. A tenant reads its own rows there, a
write never reaches it, a standby too far behind or down is not read (and that is counted),
and the warehouse export takes its facts from it, up to the head it has replayed.

The standby is started as the postgres user on a free loopback port and stopped by its
postmaster's PID after the module, also on failure."""

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django_tenants.utils import schema_context

from apps.clinic.models import Branch
from apps.core.replica import (
    READ_ONLY_OPTIONS,
    REPLICA,
    WriteWhileReadingReplica,
    fallback_counts,
    read_connection,
    reading_from_replica,
    replica_lag_seconds,
    replica_metric_lines,
)
from apps.eventbus.models import WebhookCursor
from apps.eventstore.store import head_position
from apps.reconciliation.export import export
from apps.reconciliation.models import WarehouseCursor
from apps.reconciliation.warehouse import TenantWarehouse
from apps.scheduling import commands
from apps.tenants.backups import pg_tool
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.conftest import own_connection
from tests.faults.clusters import Cluster, as_postgres, run
from tests.scheduling.factories import DoctorFactory, PatientFactory
from tests.servers import free_port, wait_until

pytestmark = [pytest.mark.fault(alone=False), pytest.mark.slow, pytest.mark.timeout(300)]


def primary_lsn() -> str:
    """Where the primary's WAL ends, commit records included. The test cluster runs with
    synchronous_commit=off, so a commit may not be written yet when it returns: the write
    position (pg_current_wal_lsn) can lie before it, the insert position cannot."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
        return str(cursor.fetchone()[0])


def replayed(standby: Cluster, lsn: str) -> bool:
    rows = standby.query(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn", "postgres")
    return bool(rows[0][0])


def caught_up(standby: Cluster) -> None:
    lsn = primary_lsn()
    wait_until(lambda: replayed(standby, lsn), 60, "the standby to replay the primary's WAL")


# Relations with lower OIDs are the system catalogs (FirstNormalObjectId).
FIRST_NORMAL_OID = 16384


def watched(schemas: tuple[str, ...]) -> tuple[int, set[int]]:
    """The test database's OID and those of the relations in `schemas`, read on the primary:
    a physical standby has the same ones, and reading its catalogs while paused could itself
    wait on a replayed lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT oid FROM pg_database WHERE datname = current_database()),"
            " array(SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            "       WHERE n.nspname = ANY(%s))",
            [list(schemas)],
        )
        database, relations = cursor.fetchone()
    return database, set(relations)


def locks_in_the_way(standby: Cluster, watching: tuple[int, set[int]]) -> list[int]:
    """The relations, of the catalogs or `watched`, that the paused standby holds replayed
    ACCESS EXCLUSIVE locks on."""
    database, relations = watching
    held = standby.query(
        "SELECT relation::bigint, database::bigint FROM pg_locks"
        " WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock' AND granted",
        "postgres",
    )
    return sorted(
        relation
        for relation, on in held
        if on in (0, database) and (relation < FIRST_NORMAL_OID or relation in relations)
    )


def pause_replay(standby: Cluster, *tenants: Tenant) -> None:
    """Pauses the standby's replay where it holds no lock that the tenants' reads would wait on.

    Replay pauses wherever it is in the WAL, which carries the writes of every worker of the
    suite: between a transaction's ACCESS EXCLUSIVE lock (a TRUNCATE, a DDL, autovacuum cutting
    a catalog's empty tail) and its commit, the paused standby keeps that lock, and a read of
    the relation, or one that has to load a relation's catalog rows, waits for it for ever.
    Such a pause is undone and tried again a moment later, once the holder has committed."""
    watching = watched(("public", *(tenant.schema_name for tenant in tenants)))
    deadline = time.monotonic() + 60
    while True:
        standby.query("SELECT pg_wal_replay_pause()", "postgres")
        wait_until(
            lambda: standby.query("SELECT pg_get_wal_replay_pause_state()", "postgres")[0][0]
            == "paused",
            30,
            "the standby's replay to pause",
        )
        held = locks_in_the_way(standby, watching)
        if not held:
            return
        standby.query("SELECT pg_wal_replay_resume()", "postgres")
        assert time.monotonic() < deadline, f"the standby kept locks on {held} for a minute"
        time.sleep(0.05)


# A hot standby needs these at least as high as its primary has them.
HOT_STANDBY_MINIMUMS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)


@pytest.fixture(scope="module")
def standby(django_db_blocker: Any) -> Iterator[Cluster]:
    """A streaming standby of the cluster that holds the test database."""
    folder = Path(tempfile.mkdtemp(prefix="mymedic-standby-", dir="/tmp"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    with django_db_blocker.unblock():
        primary = connections[DEFAULT_DB_ALIAS].settings_dict
        host, port = primary["HOST"] or "127.0.0.1", str(primary["PORT"] or 5432)
        with connection.cursor() as cursor:
            minimums = []
            for name in HOT_STANDBY_MINIMUMS:
                cursor.execute(f"SHOW {name}")
                minimums.append(f"-c {name}={cursor.fetchone()[0]}")
    cluster = Cluster(folder / "standby", free_port())
    log = folder / "standby.log"
    try:
        run(as_postgres(pg_tool("pg_basebackup"), "-h", host, "-p", port, "-U", "postgres",
                        "-D", cluster.data, "-X", "stream", "-R", "--checkpoint=fast"))  # fmt: skip
        options = " ".join(
            [f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {cluster.data}", *minimums]
        )
        try:
            run(as_postgres(pg_tool("pg_ctl"), "-D", cluster.data, "-l", log, "-w", "-o",
                            options, "start"))  # fmt: skip
        except AssertionError as failed:
            raise AssertionError(f"{failed}\n{log.read_text()[-2000:]}") from None
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def replica(standby: Cluster, django_db_blocker: Any) -> Iterator[Cluster]:
    """The standby as the `replica` alias of this process (as MYMEDIC_REPLICA_URL makes it)."""
    with django_db_blocker.unblock():
        primary = connections[DEFAULT_DB_ALIAS].settings_dict
        connections.settings[REPLICA] = {
            **primary,
            "HOST": "127.0.0.1",
            "PORT": str(standby.port),
            "CONN_MAX_AGE": 0,
            # A read waiting on a lock the paused standby keeps fails within the test's time.
            "OPTIONS": {"options": f"{READ_ONLY_OPTIONS} -c lock_timeout=30s"},
        }
        try:
            yield standby
        finally:
            with suppress(Exception):
                connections[REPLICA].close()
            del connections.settings[REPLICA]
            with suppress(AttributeError):
                delattr(connections._connections, REPLICA)


@pytest.fixture
def two_tenants(
    replica: Cluster, committed_tenant: Tenant, second_tenant: Tenant, django_db_blocker: Any
) -> Iterator[tuple[Tenant, Tenant]]:
    """Each tenant with a row of its own, committed and replayed on the standby."""
    with django_db_blocker.unblock():
        for tenant in (committed_tenant, second_tenant):
            with schema_context(tenant.schema_name):
                WebhookCursor.objects.create(channel=f"only-{tenant.slug}", position=1)
        caught_up(replica)
        try:
            yield committed_tenant, second_tenant
        finally:
            with suppress(psycopg.Error):  # the last test stops the standby
                replica.query("SELECT pg_wal_replay_resume()", "postgres")
            connections[REPLICA].close()  # a read a test left half-done ends with it
            for tenant in (committed_tenant, second_tenant):
                with schema_context(tenant.schema_name):
                    WebhookCursor.objects.all().delete()


def channels() -> set[str]:
    return set(WebhookCursor.objects.values_list("channel", flat=True))


def test_a_tenant_reads_its_own_rows_on_the_standby_and_not_another_tenants(
    two_tenants: tuple[Tenant, Tenant],
) -> None:
    seen = {}
    for tenant in two_tenants:
        with schema_context(tenant.schema_name), reading_from_replica() as alias:
            seen[tenant.slug] = (alias, channels())
            with read_connection().cursor() as cursor:
                cursor.execute(
                    "SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only'),"
                    " current_schema()"
                )
                seen[f"{tenant.slug}:server"] = cursor.fetchone()
    first, second = two_tenants
    assert seen[first.slug] == (REPLICA, {f"only-{first.slug}"})
    assert seen[second.slug] == (REPLICA, {f"only-{second.slug}"})
    assert seen[f"{first.slug}:server"] == (True, "on", first.schema_name)
    assert seen[f"{second.slug}:server"] == (True, "on", second.schema_name)


def test_reads_in_the_block_see_the_standby_not_the_primary(
    two_tenants: tuple[Tenant, Tenant], replica: Cluster, settings: Any
) -> None:
    tenant, _ = two_tenants
    settings.MYMEDIC_REPLICA_MAX_LAG_SECONDS = 600
    pause_replay(replica, tenant)
    with schema_context(tenant.schema_name):
        head = head_position()
        WebhookCursor.objects.create(channel="written-after-the-pause")
        on_primary = channels()
        with reading_from_replica() as alias:
            on_standby = channels()
            standby_head = head_position()
    assert alias == REPLICA
    assert "written-after-the-pause" in on_primary
    assert "written-after-the-pause" not in on_standby
    assert on_standby == {f"only-{tenant.slug}"}
    assert standby_head == head


def test_a_pause_waits_out_a_lock_that_the_standby_replayed(
    two_tenants: tuple[Tenant, Tenant], replica: Cluster
) -> None:
    """What `pause_replay` guards against, made certain: when the standby is to pause, it
    holds a lock on the tenant's events that another connection took on the primary."""
    tenant, _ = two_tenants
    holder = own_connection()
    holder.execute(f'LOCK TABLE "{tenant.schema_name}".eventstore_event IN ACCESS EXCLUSIVE MODE')
    caught_up(replica)
    held_before = locks_in_the_way(replica, watched((tenant.schema_name,)))
    release = threading.Timer(1.0, holder.commit)
    release.start()
    try:
        started = time.monotonic()
        pause_replay(replica, tenant)
        waited = time.monotonic() - started
    finally:
        release.join()
        holder.close()
    with schema_context(tenant.schema_name):
        head = head_position()
        with reading_from_replica() as alias:
            standby_head = head_position()
    assert held_before, "the standby did not replay the lock"
    assert waited >= 0.9
    assert alias == REPLICA
    assert standby_head == head


def test_a_write_never_reaches_the_standby(two_tenants: tuple[Tenant, Tenant]) -> None:
    tenant, _ = two_tenants
    with schema_context(tenant.schema_name):
        with pytest.raises(WriteWhileReadingReplica), reading_from_replica() as alias:
            WebhookCursor.objects.create(channel="refused")
        with (
            reading_from_replica(),
            read_connection().cursor() as cursor,
            pytest.raises(DatabaseError, match="read-only transaction"),
        ):
            cursor.execute(
                "INSERT INTO eventbus_webhookcursor (channel, position, delivered_at)"
                " VALUES ('raw', 1, now())"
            )
        with reading_from_replica():
            row = WebhookCursor.objects.get(channel=f"only-{tenant.slug}")
        row.position = 5
        row.save()  # read on the standby, saved on the primary
        assert WebhookCursor.objects.get(channel=f"only-{tenant.slug}").position == 5
        assert not WebhookCursor.objects.filter(channel__in=["refused", "raw"]).exists()
    assert alias == REPLICA


def test_a_standby_too_far_behind_is_not_read_and_the_fallback_is_counted(
    two_tenants: tuple[Tenant, Tenant], replica: Cluster, settings: Any
) -> None:
    tenant, _ = two_tenants
    settings.MYMEDIC_REPLICA_MAX_LAG_SECONDS = 1
    pause_replay(replica, tenant)
    before = fallback_counts().get("lag", 0)
    with schema_context(tenant.schema_name):
        WebhookCursor.objects.create(channel="while-behind")
        wait_until(lambda: replica_lag_seconds() > 1, 30, "the standby to fall 1 s behind")
        with reading_from_replica() as alias:
            seen = channels()
    metrics = "\n".join(replica_metric_lines())
    assert alias == DEFAULT_DB_ALIAS
    assert "while-behind" in seen
    assert fallback_counts()["lag"] == before + 1
    assert f'mymedic_replica_fallbacks_total{{reason="lag"}} {before + 1}' in metrics
    assert "mymedic_replica_lag_seconds " in metrics

    replica.query("SELECT pg_wal_replay_resume()", "postgres")
    caught_up(replica)
    # The standby streams the whole cluster, which the other tests write to meanwhile: WAL it
    # has received but not replayed yet counts from the last commit it replayed, which may be
    # over the bound for a moment after catching up. Reads go back to it once within it.
    wait_until(standby_chosen, 30, "reads to go to the standby again")
    with schema_context(tenant.schema_name), reading_from_replica() as alias:
        seen = channels()
    assert alias == REPLICA
    assert "while-behind" in seen


def standby_chosen() -> bool:
    with reading_from_replica() as alias:
        return alias == REPLICA


def book(count: int, first_hour: int) -> None:
    doctor = DoctorFactory(
        branch=Branch.objects.get(), weekly_hours=[{"weekday": 1, "start": "08:00", "end": "20:00"}]
    )
    patient = PatientFactory()
    for hour in range(first_hour, first_hour + count):
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, hour))


def test_the_warehouse_export_reads_its_facts_from_the_standby_up_to_the_standby_head(
    two_tenants: tuple[Tenant, Tenant], replica: Cluster, settings: Any, tmp_path: Path
) -> None:
    tenant, _ = two_tenants
    settings.MYMEDIC_WAREHOUSE_URL = f"chdb://{tmp_path}/warehouse"
    settings.MYMEDIC_REPLICA_MAX_LAG_SECONDS = 600
    with schema_context(tenant.schema_name):
        book(2, 8)
        caught_up(replica)
        pause_replay(replica, tenant)
        standby_head = head_position()
        book(2, 10)  # committed on the primary only, for now
        primary_head = head_position()
        warehouse = TenantWarehouse(tenant.schema_name)
        export(warehouse)
        exported_while_paused = WarehouseCursor.objects.get().position
        replica.query("SELECT pg_wal_replay_resume()", "postgres")
        caught_up(replica)
        export(warehouse)
        exported_after = WarehouseCursor.objects.get().position
    assert primary_head > standby_head
    assert exported_while_paused == standby_head
    assert exported_after == primary_head


def test_a_standby_that_is_down_is_not_read_and_the_fallback_is_counted(
    two_tenants: tuple[Tenant, Tenant], replica: Cluster
) -> None:
    tenant, _ = two_tenants
    before = fallback_counts().get("unavailable", 0)
    replica.stop()
    with schema_context(tenant.schema_name), reading_from_replica() as alias:
        seen = channels()
    assert alias == DEFAULT_DB_ALIAS
    assert seen == {f"only-{tenant.slug}"}
    assert fallback_counts()["unavailable"] == before + 1
