"""Publishing each tenant's audit anchor (thin tasks; safe to run twice)."""

from typing import Any

from celery import shared_task

from apps.audit import anchors
from apps.core.db import connection
from apps.core.tenancy import for_each_tenant


@shared_task(acks_late=True)
def publish_anchor() -> int | None:
    """Anchors the head of the task's tenant's chain (tenant-schemas-celery sets the schema)."""
    anchor = anchors.publish()
    return anchor.entry if anchor else None


@shared_task
def publish_all_anchors() -> int:
    """Beat (in the public schema): one anchoring task per tenant, each in its own schema."""

    def fan_out(tenant: Any) -> bool:
        publish_anchor.delay()
        return True

    sent = len(for_each_tenant(fan_out))
    connection.set_schema_to_public()
    return sent
