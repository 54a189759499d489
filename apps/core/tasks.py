from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from apps.core.models import IdempotencyRecord
from apps.core.tenancy import for_each_tenant

IDEMPOTENCY_WINDOW = timedelta(hours=24)


def purge_expired_keys() -> int:
    """Keys are honoured for a day; older records go (in the current schema)."""
    cutoff = timezone.now() - IDEMPOTENCY_WINDOW
    deleted, _ = IdempotencyRecord.objects.filter(created__lt=cutoff).delete()
    return deleted


@shared_task
def purge_idempotency_records() -> int:
    purged = purge_expired_keys()
    return purged + sum(for_each_tenant(lambda tenant: purge_expired_keys()).values())
