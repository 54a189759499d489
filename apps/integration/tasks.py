"""Beat tasks of the integration node, per tenant: automatic retries of the HL7 error queue and
the outbound SIU sender. Thin and safe to run twice."""

from datetime import datetime

from celery import Task, shared_task
from django.utils import timezone

from apps.core.tenancy import (
    TENANT_TASK_OPTIONS,
    fan_out,
    first_fire,
    run_tenant_job,
    tenants_with_work,
)
from apps.integration.commands import RETRY_JOB, next_retry, retry_due
from apps.integration.outbound import SEND_JOB, next_send, send_pending


@shared_task
def retry_hl7_messages() -> list[str]:
    """Every 30 s (public schema): a task for each tenant with an HL7 retry due."""
    if not first_fire(RETRY_JOB):
        return []
    return fan_out(retry_tenant_messages, tenants_with_work(RETRY_JOB, timezone.now()))


def _next_due() -> datetime | None:
    return next_retry()


@shared_task(**TENANT_TASK_OPTIONS)
def retry_tenant_messages(self: Task) -> int | None:
    """The task's tenant: messages whose retry is due (or left unapplied) go through again."""
    return run_tenant_job(self, RETRY_JOB, lambda: retry_due(), next_due=_next_due)


@shared_task
def send_hl7_outbound() -> list[str]:
    """Every 30 s (public schema): a task for each tenant with outbound SIU due."""
    if not first_fire(SEND_JOB):
        return []
    return fan_out(send_tenant_outbound, tenants_with_work(SEND_JOB, timezone.now()))


@shared_task(**TENANT_TASK_OPTIONS)
def send_tenant_outbound(self: Task) -> int | None:
    """The task's tenant: SIU messages due go to their hospitals, in order per channel."""
    return run_tenant_job(self, SEND_JOB, lambda: send_pending(), next_due=next_send)
