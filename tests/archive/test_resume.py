"""Archiving a month in bounded steps: each step stops after its chunk past the deadline and
the next goes on from the checkpoint; a run killed in the middle is resumed and ends with
exactly the rows of the month, in order, once, and the partition is dropped only then."""

import gzip
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django_tenants.utils import schema_context

from apps.archive import commands as archive
from apps.archive.models import ArchiveProgress
from apps.core.db import connection
from apps.core.partitions import EVENT_LOG, ensure_months, partitions
from apps.eventstore import archivefiles
from apps.eventstore.models import ArchivedPartition
from apps.tenants.models import Tenant
from tests.conftest import subprocess_env

MONTH = date(2020, 1, 1)
NAME = EVENT_LOG.partition_name(MONTH)
ROOT = Path(settings.BASE_DIR)
# Events of a type no projection handles: the archive catches the read models up first.
FILL = """
INSERT INTO {table} (position, stream, version, type, schema_version, data, metadata, occurred_at)
SELECT nextval('eventstore_event_position_seq'), 'probe-' || g, 1, 'ArchiveProbe', 1,
       jsonb_build_object('n', g), jsonb_build_object('actor_role', 'system'),
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(%(start)s, %(stop)s) AS g
"""


def fill_month(rows: int) -> list[str]:
    """`rows` events in January 2020 (past any retention); returns them as the archive must
    hold them: row_to_json lines in position order."""
    ensure_months(EVENT_LOG, [MONTH])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(FILL.format(table=NAME), {"start": 0, "stop": rows - 1})
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT row_to_json(t)::text FROM {NAME} AS t ORDER BY position"  # noqa: S608
        )
        return [line for (line,) in cursor.fetchall()]


def archived_lines(path: str) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return lines.read().splitlines()


def live_partitions() -> set[str]:
    with connection.cursor() as cursor:
        return {p.name for p in partitions(cursor, EVENT_LOG)}


def digest(lines: list[str]) -> str:
    return hashlib.sha256("".join(line + "\n" for line in lines).encode()).hexdigest()


@pytest.fixture(autouse=True)
def archive_dir(tmp_path: Path, settings: Any) -> Path:
    settings.MYMEDIC_ARCHIVE_DIR = str(tmp_path / "archive")
    return tmp_path / "archive"


@pytest.mark.usefixtures("tenant", "monday_morning")
def test_each_step_stops_at_its_deadline_and_the_next_goes_on(settings: Any) -> None:
    settings.MYMEDIC_ARCHIVE_CHUNK_ROWS = 40
    expected = fill_month(150)

    steps = []
    while True:
        done = archive.logs_archive(actor=None, deadline=time.monotonic())
        month = [a for a in done if a.partition == NAME]
        steps.append(month[-1])
        if month[-1].finished:
            break
        progress = ArchiveProgress.objects.get(partition=NAME)
        assert progress.rows == 40 * len(steps)
        assert NAME in live_partitions()  # nothing leaves before every chunk is verified

    # 40 + 40 + 40 + 30 rows: the fourth chunk came back short, so the month is complete.
    assert [s.finished for s in steps] == [False, False, False, True]
    record = ArchivedPartition.objects.get(partition=NAME)
    assert record.rows == 150 == steps[-1].rows
    assert archived_lines(record.path) == expected
    assert record.sha256 == archivefiles.file_sha256(Path(record.path))
    assert NAME not in live_partitions()
    assert not ArchiveProgress.objects.exists()


def test_a_member_written_again_after_a_torn_write_gives_the_same_bytes(tmp_path: Path) -> None:
    first, second = ['{"id": 1}', '{"id": 2}'], ['{"id": 3}']
    whole = tmp_path / "whole.ndjson.gz"
    _, end = archivefiles.append_member(whole, 0, first)
    archivefiles.append_member(whole, end, second)

    torn = tmp_path / "torn.ndjson.gz"
    _, checkpoint = archivefiles.append_member(torn, 0, first)
    archivefiles.append_member(torn, checkpoint, ['{"id": 3}', '{"id": 4}'])
    with torn.open("r+b") as raw:  # the killed run got half of its member out
        raw.truncate(checkpoint + 7)
    archivefiles.append_member(torn, checkpoint, second)

    assert torn.read_bytes() == whole.read_bytes()
    assert list(archivefiles.read_rows(torn)) == [{"id": 1}, {"id": 2}, {"id": 3}]


@pytest.fixture
def month_of_committed_tenant(
    committed_tenant: Tenant, django_db_blocker: Any
) -> Iterator[tuple[Tenant, list[str]]]:
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        expected = fill_month(20_000)
        try:
            yield committed_tenant, expected
        finally:
            connection.set_schema(committed_tenant.schema_name)
            ArchiveProgress.objects.all().delete()
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {NAME}")


@pytest.mark.slow
@pytest.mark.fault(alone=False)
@pytest.mark.timeout(300)
def test_an_archive_killed_in_the_middle_resumes_and_ends_with_the_same_archive(
    month_of_committed_tenant: tuple[Tenant, list[str]], archive_dir: Path, settings: Any
) -> None:
    tenant, expected = month_of_committed_tenant
    chunk = 50
    env = subprocess_env(
        MYMEDIC_ARCHIVE_CHUNK_ROWS=str(chunk), MYMEDIC_ARCHIVE_DIR=str(archive_dir)
    )
    command = [sys.executable, "manage.py", "archive_partitions", "--tenant", tenant.slug]
    run = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)  # noqa: S603
    try:
        began = time.monotonic()
        while time.monotonic() - began < 240 and run.poll() is None:
            if ArchiveProgress.objects.filter(partition=NAME, rows__gte=2_000).exists():
                break
            time.sleep(0.05)
        os.kill(run.pid, signal.SIGKILL)
    finally:
        run.kill()
        run.wait(30)
    assert run.returncode == -signal.SIGKILL, "the run ended before it could be killed"

    progress = ArchiveProgress.objects.get(partition=NAME)
    assert 2_000 <= progress.rows < len(expected)
    assert NAME in live_partitions()
    assert not ArchivedPartition.objects.filter(partition=NAME).exists()

    settings.MYMEDIC_ARCHIVE_CHUNK_ROWS = chunk
    done = archive.logs_archive(actor=None)

    assert [(a.partition, a.rows, a.finished) for a in done] == [(NAME, len(expected), True)]
    record = ArchivedPartition.objects.get(partition=NAME)
    lines = archived_lines(record.path)
    assert len(lines) == record.rows == len(expected)
    assert digest(lines) == digest(expected)
    assert record.sha256 == archivefiles.file_sha256(Path(record.path))
    assert record.first_id == int(expected[0].split('"position":')[1].split(",")[0])
    assert NAME not in live_partitions()
    assert not ArchiveProgress.objects.exists()
