"""The run's test database is built once and copied for each xdist worker (tests/testdb.py):
a worker copies only a base its own run built, and workers that arrive together wait for one
build. Probed on small databases of their own, never the suite's."""

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from tests import testdb
from tests.servers import wait_until


class Probe:
    """A base and its copies with unique names; `build` makes the base with one row naming
    the build, and counts the builds."""

    def __init__(self) -> None:
        self.stem = f"{connection.settings_dict['NAME']}_probe_{uuid.uuid4().hex[:8]}"
        self.base = f"{self.stem}_base"
        self.builds = 0
        self.before_build: Any = None

    def copy(self, number: int) -> str:
        return f"{self.stem}_gw{number}"

    def build(self) -> None:
        if self.before_build is not None:
            self.before_build()
        self.builds += 1
        with testdb.maintenance(connection.settings_dict) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(self.base)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.base)))
        with self.connect(self.base) as db:
            db.execute("CREATE TABLE built (number int)")
            db.execute("INSERT INTO built VALUES (%s)", [self.builds])

    def connect(self, name: str) -> psycopg.Connection[Any]:
        settings = connection.settings_dict
        return psycopg.connect(
            host=settings["HOST"], port=settings["PORT"], user=settings["USER"],
            password=settings["PASSWORD"] or None, dbname=name, autocommit=True,
        )  # fmt: skip

    def built_number_in(self, name: str) -> int:
        with self.connect(name) as db:
            row = db.execute("SELECT number FROM built").fetchone()
        assert row is not None
        return int(row[0])

    def copy_as(self, run: str, number: int) -> None:
        with testdb.maintenance(connection.settings_dict) as admin:
            testdb.copy_base(admin, base=self.base, copy=self.copy(number), run=run,
                             build=self.build)  # fmt: skip


@pytest.fixture
def probe() -> Iterator[Probe]:
    made = Probe()
    try:
        yield made
    finally:
        with testdb.maintenance(connection.settings_dict) as admin:
            for name in [made.base, made.copy(0), made.copy(1)]:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def test_the_first_worker_builds_the_base_and_every_worker_copies_that_build(
    probe: Probe,
) -> None:
    probe.copy_as("run-1", 0)
    probe.copy_as("run-1", 1)

    assert probe.builds == 1
    assert probe.built_number_in(probe.copy(0)) == probe.built_number_in(probe.copy(1)) == 1
    with testdb.maintenance(connection.settings_dict) as admin:
        assert testdb.built_by(admin, probe.base) == "run-1"


def test_a_base_another_run_built_is_never_copied_but_built_again(probe: Probe) -> None:
    probe.copy_as("run-1", 0)
    probe.copy_as("run-2", 0)  # e.g. the migrations changed in between

    assert probe.builds == 2
    assert probe.built_number_in(probe.copy(0)) == 2  # the older copy was replaced


def test_workers_that_arrive_together_wait_for_one_build(probe: Probe) -> None:
    building = threading.Event()
    failures: list[BaseException] = []

    def other_worker_waits() -> bool:
        """Someone waits for the advisory lock of this base (a bigint key: its low 32 bits)."""
        with testdb.maintenance(connection.settings_dict) as admin:
            row = admin.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND objsubid = 1 AND objid::int8 = hashtext(%s)::int8 & 4294967295",
                [probe.base],
            ).fetchone()
        return row is not None and row[0] > 0

    def build_once_the_other_waits() -> None:
        building.set()
        wait_until(other_worker_waits, 30, "the other worker to wait for the build")

    def worker(number: int) -> None:
        try:
            probe.copy_as("run-1", number)
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            failures.append(error)

    probe.before_build = build_once_the_other_waits
    first = threading.Thread(target=worker, args=(0,))
    first.start()
    assert building.wait(30)
    second = threading.Thread(target=worker, args=(1,))
    second.start()
    first.join(60)
    second.join(60)

    assert failures == []
    assert probe.builds == 1
    assert probe.built_number_in(probe.copy(1)) == 1
