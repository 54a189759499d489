"""Beat jobs of the log's partitions (thin tasks; safe to run twice).

- `make-log-partitions` (hourly) visits only the tenants whose event log grew since its last
  visit, and makes their partitions of this month and the next two: an idle tenant costs
  nothing, and its rare insert lands in the DEFAULT partition, moved when its month is made.
- `archive-log-partitions` (daily) visits only the tenants whose archive is due: each visit
  notes when its oldest live month passes retention next. A visit is one bounded step: it
  archives chunks until `STEP_MARGIN` seconds before the `reports` queue's soft time limit,
  then sends itself again to go on from the checkpoint (a hospital month takes several).
"""

import time
from datetime import datetime

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from apps.archive import commands
from apps.core.db import connection
from apps.core.tenancy import (
    TENANT_TASK_OPTIONS,
    fan_out,
    first_fire,
    note_due,
    run_tenant_job,
    tenants_with_work,
)

MAKE = "make-log-partitions"
ARCHIVE = "archive-log-partitions"
# Seconds left of the soft time limit when a step starts no further chunk: a chunk of
# MYMEDIC_ARCHIVE_CHUNK_ROWS (100,000) rows took 10-15 s on the loaded bench machine.
STEP_MARGIN = 60


def step_seconds() -> float:
    soft, _hard = settings.MYMEDIC_TASK_TIME_LIMITS["reports"]
    return max(soft - STEP_MARGIN, soft / 2)


@shared_task(**TENANT_TASK_OPTIONS)
def make_tenant_partitions(self: Task) -> list[str] | None:
    def make() -> list[str]:
        made = commands.partitions_make()
        due = commands.next_archive_due()
        if due is not None:
            note_due(ARCHIVE, due)
        return made

    return run_tenant_job(self, MAKE, make)


@shared_task
def make_all_partitions() -> list[str]:
    if not first_fire(MAKE):
        return []
    return fan_out(make_tenant_partitions, tenants_with_work(MAKE, timezone.now()))


@shared_task(**TENANT_TASK_OPTIONS)
def archive_tenant_partitions(self: Task) -> int | None:
    def archive() -> int:
        done = commands.logs_archive(actor=None, deadline=time.monotonic() + step_seconds())
        if done and not done[-1].finished:
            self.apply_async(headers={"_schema_name": connection.schema_name})
        return len(done)

    def next_due() -> datetime | None:
        return commands.next_archive_due()

    return run_tenant_job(self, ARCHIVE, archive, next_due=next_due)


@shared_task
def archive_all_partitions() -> list[str]:
    if not first_fire(ARCHIVE):
        return []
    return fan_out(archive_tenant_partitions, tenants_with_work(ARCHIVE, timezone.now()))
