"""The serving bench's in-process CPU figures, the writes bench's PostgreSQL wait profile and
the streams' push summary (apps/bench)."""

import threading

from django.db import connection

from apps.bench.cpu import cpu_per_request
from apps.bench.management.commands.bench import push_summary
from apps.bench.waits import commits, shares, wait_profile
from apps.clinic.models import User
from apps.tenants.models import Tenant
from tests.conftest import client_for, own_connection


def test_each_path_is_charged_its_cpu_against_the_first(owner: User, tenant: Tenant) -> None:
    token = client_for(owner, tenant)._credentials["HTTP_AUTHORIZATION"]

    measured = cpu_per_request(
        f"{tenant.slug}.localhost",
        {
            "healthz": ("/healthz", {}),
            "trivial_view": ("/api/v1/auth/me/", {"HTTP_AUTHORIZATION": token}),
        },
        requests=20,
    )

    health, me = measured["paths"]["healthz"], measured["paths"]["trivial_view"]
    assert measured["requests"] == 20
    assert (health["non_200"], me["non_200"]) == (0, 0)
    assert health["cpu_x_baseline"] == 1.0
    assert me["cpu_us"] > 0
    assert me["cpu_x_baseline"] == round(me["cpu_us"] / health["cpu_us"], 2)


def test_the_wait_profile_sees_what_a_backend_waits_for(db: None) -> None:
    def sleep_in_postgresql() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_sleep(0.3)")
        finally:
            connection.close()

    with wait_profile() as waits:
        sleeper = threading.Thread(target=sleep_in_postgresql)
        sleeper.start()
        sleeper.join()

    assert waits["Timeout:PgSleep"] > 5
    assert shares(waits)["Timeout:PgSleep"] > 0.5


def test_a_push_summary_counts_streams_and_times_from_the_commit() -> None:
    summary = push_summary({0: 1.0, 1: 1.0, 2: 1.0}, 2.5, {0: 10.2, 1: 10.9, 2: 11.5}, 10.0)

    assert summary["opened"] == 3
    assert summary["open_all_s"] == 2.5
    assert summary["pushed_to"] == 3
    assert summary["within_1_s"] == 2
    assert summary["push_max_ms"] == 1500.0
    assert summary["push"]["n"] == 3


def test_commits_counts_the_transactions_committed_meanwhile(db: None) -> None:
    # Another connection commits (the test's own runs inside one transaction).
    # The connection closes first (its backend hands in its counts as it ends), then the
    # block's last look.
    with (
        commits(units=2, settle=0.5) as counted,
        own_connection(autocommit=True) as other,
    ):
        for _ in range(6):
            other.execute("SELECT txid_current()")  # an id: a commit record in the WAL

    assert counted["commits_per_unit"] >= 3
    assert counted["wal_records_per_unit"] >= 3
