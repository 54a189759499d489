"""Archiving a month in bounded steps: each step stops after its chunk past the deadline and
the next goes on from the checkpoint; a run killed in the middle is resumed and ends with
exactly the rows of the month, in order, once, and the partition is dropped only then."""

import gzip
import hashlib
import json
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
import redis
from django.conf import settings
from django.db import transaction
from django_tenants.utils import schema_context

from apps.archive import commands as archive
from apps.archive.models import ArchiveProgress
from apps.archive.tasks import archive_tenant_partitions
from apps.core.db import connection
from apps.core.errors import Conflict
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


def fill_month(rows: int, start: int = 0) -> list[str]:
    """`rows` events in January 2020 (past any retention), the minutes from `start` on;
    returns the month as the archive must hold it: row_to_json lines in position order."""
    ensure_months(EVENT_LOG, [MONTH])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(FILL.format(table=NAME), {"start": start, "stop": start + rows - 1})
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


def queued_archive_steps() -> list[str]:
    """The schemas of the archive steps waiting in the `reports` queue (taken off it)."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    messages = [json.loads(raw) for raw in broker.lrange("reports", 0, -1)]
    broker.delete("reports")
    return [
        m["headers"]["_schema_name"]
        for m in messages
        if m["headers"]["task"] == archive_tenant_partitions.name
    ]


@pytest.mark.usefixtures("monday_morning")
def test_a_step_that_stops_short_sends_itself_again_until_the_month_is_archived(
    tenant: Tenant, settings: Any
) -> None:
    """The beat task's step ends at its share of the `reports` time limit (here none: one
    chunk a step) and queues the next step for its tenant, until the month is archived."""
    settings.MYMEDIC_ARCHIVE_CHUNK_ROWS = 40
    settings.MYMEDIC_TASK_TIME_LIMITS = {**settings.MYMEDIC_TASK_TIME_LIMITS, "reports": (0, 1)}
    expected = fill_month(150)
    queued_archive_steps()

    sent_after = []
    for _ in range(10):
        # What a worker does with the step the queue hands it.
        result = archive_tenant_partitions.apply(headers={"_schema_name": tenant.schema_name})
        assert result.successful() and result.result == 1
        sent_after.append(queued_archive_steps())
        if not sent_after[-1]:
            break

    # 40 + 40 + 40 + 30 rows: three steps send the next, the fourth finishes the month.
    assert sent_after == [[tenant.schema_name]] * 3 + [[]]
    record = ArchivedPartition.objects.get(partition=NAME)
    assert record.rows == 150
    assert archived_lines(record.path) == expected
    assert NAME not in live_partitions()


@pytest.mark.usefixtures("tenant", "monday_morning")
def test_a_month_written_to_after_its_export_is_kept_then_archived_again_whole(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A late row of the month lands after its last chunk was exported, before the drop: the
    drop refuses (nothing lost), the checkpoint is forgotten, and the next run archives the
    month again from its first row, the late one included."""
    settings.MYMEDIC_ARCHIVE_CHUNK_ROWS = 40
    fill_month(100)
    record_file = archive._record

    def late_write_then_record(*args: Any, **kwargs: Any) -> ArchivedPartition:
        fill_month(1, start=100)
        return record_file(*args, **kwargs)

    monkeypatch.setattr(archive, "_record", late_write_then_record)
    with pytest.raises(Conflict, match="changed while it was archived; nothing was dropped"):
        archive.logs_archive(actor=None)
    assert NAME in live_partitions()
    assert not ArchivedPartition.objects.filter(partition=NAME).exists()
    assert not ArchiveProgress.objects.filter(partition=NAME).exists()

    monkeypatch.setattr(archive, "_record", record_file)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT row_to_json(t)::text FROM {NAME} AS t ORDER BY position"  # noqa: S608
        )
        expected = [line for (line,) in cursor.fetchall()]
    assert len(expected) == 101
    done = archive.logs_archive(actor=None)

    assert [(a.partition, a.rows, a.finished) for a in done] == [(NAME, 101, True)]
    record = ArchivedPartition.objects.get(partition=NAME)
    assert archived_lines(record.path) == expected
    assert record.sha256 == archivefiles.file_sha256(Path(record.path))
    assert NAME not in live_partitions()


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
