"""Publishing each tenant's audit anchor (thin tasks; safe to run twice)."""

from celery import Task, shared_task
from django.utils import timezone

from apps.audit import anchors
from apps.core.tenancy import (
    TENANT_TASK_OPTIONS,
    fan_out,
    first_fire,
    run_tenant_job,
    tenants_with_work,
)


@shared_task(**TENANT_TASK_OPTIONS)
def publish_anchor(self: Task) -> int | None:
    """Anchors the head of the task's tenant's chain (tenant-schemas-celery sets the schema)."""

    def publish() -> int | None:
        anchor = anchors.publish()
        return anchor.entry if anchor else None

    return run_tenant_job(self, "publish-audit-anchors", publish)


@shared_task
def publish_all_anchors() -> list[str]:
    """Beat (public schema): an anchoring task for each tenant whose trail grew since its
    last anchor."""
    if not first_fire("publish-audit-anchors"):
        return []
    return fan_out(publish_anchor, tenants_with_work("publish-audit-anchors", timezone.now()))
