"""Beat jobs of the log's partitions (thin tasks; safe to run twice).

- `make-log-partitions` (hourly) visits only the tenants whose event log grew since its last
  visit, and makes their partitions of this month and the next two: an idle tenant costs
  nothing, and its rare insert lands in the DEFAULT partition, moved when its month is made.
- `archive-log-partitions` (daily) visits only the tenants whose archive is due: each visit
  notes when its oldest live month passes retention next.
"""

from datetime import datetime

from celery import Task, shared_task
from django.utils import timezone

from apps.archive import commands
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
        return len(commands.logs_archive(actor=None))

    def next_due() -> datetime | None:
        return commands.next_archive_due()

    return run_tenant_job(self, ARCHIVE, archive, next_due=next_due)


@shared_task
def archive_all_partitions() -> list[str]:
    if not first_fire(ARCHIVE):
        return []
    return fan_out(archive_tenant_partitions, tenants_with_work(ARCHIVE, timezone.now()))
