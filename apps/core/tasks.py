from datetime import datetime

from celery import Task, shared_task
from django.db.models import Min
from django.utils import timezone

from apps.core.idempotency import IDEMPOTENCY_WINDOW
from apps.core.models import IdempotencyRecord
from apps.core.tenancy import (
    TENANT_TASK_OPTIONS,
    fan_out,
    first_fire,
    run_tenant_job,
    tenants_with_work,
)


def purge_expired_keys() -> int:
    """Keys are honoured for a day; older records go (in the current schema)."""
    cutoff = timezone.now() - IDEMPOTENCY_WINDOW
    deleted, _ = IdempotencyRecord.objects.filter(created__lt=cutoff).delete()
    return deleted


def next_purge() -> datetime | None:
    oldest: datetime | None = IdempotencyRecord.objects.aggregate(at=Min("created"))["at"]
    return oldest + IDEMPOTENCY_WINDOW if oldest else None


@shared_task
def purge_idempotency_records() -> int:
    """Hourly (public schema): purges the public schema's records, and sends a purge task to
    each tenant whose oldest record has expired."""
    if not first_fire("purge-idempotency-records"):
        return 0
    purged = purge_expired_keys()
    fan_out(purge_tenant_records, tenants_with_work("purge-idempotency-records", timezone.now()))
    return purged


@shared_task(**TENANT_TASK_OPTIONS)
def purge_tenant_records(self: Task) -> int | None:
    return run_tenant_job(
        self, "purge-idempotency-records", purge_expired_keys, next_due=next_purge
    )
