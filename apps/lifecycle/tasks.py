"""Beat's part: erasing closed tenants whose grace ended, and measuring storage of the
tenants whose log grew. Thin, one task per tenant, safe to run twice."""

from celery import Task, shared_task
from django.db import DatabaseError
from django.utils import timezone

from apps.core.db import connection
from apps.core.tenancy import (
    TENANT_TASK_OPTIONS,
    fan_out,
    first_fire,
    run_tenant_job,
    tenants_with_work,
)
from apps.lifecycle.commands import closure_of, closures_due, tenant_erase
from apps.lifecycle.storage import storage_measure
from apps.tenants.models import Tenant

BY_DATE = "beat"


@shared_task
def erase_closed_tenants() -> list[int]:
    """Beat, hourly: one erasure task per closed tenant whose grace has ended."""
    if not first_fire("erase-closed-tenants"):
        return []
    due = closures_due(timezone.now())
    for closure_id in due:
        erase_closed_tenant.apply_async(args=(closure_id,), headers={"_schema_name": "public"})
    return due


@shared_task(acks_late=True, autoretry_for=(DatabaseError,), retry_backoff=30, max_retries=3)
def erase_closed_tenant(closure_id: int) -> str:
    """Erases one closed tenant, or finishes its interrupted erasure."""
    closure = tenant_erase(actor=BY_DATE, closure=closure_of(closure_id))
    return closure.slug


@shared_task
def measure_storage() -> list[str]:
    """Beat, hourly: a measurement for each tenant whose event log grew since its last one."""
    if not first_fire("measure-storage"):
        return []
    return fan_out(measure_tenant_storage, tenants_with_work("measure-storage", timezone.now()))


@shared_task(**TENANT_TASK_OPTIONS)
def measure_tenant_storage(self: Task) -> int | None:
    """The task's tenant: its storage bytes this month."""

    def measure() -> int:
        tenant = Tenant.objects.get(schema_name=connection.schema_name)
        return storage_measure(actor=None, tenant=tenant).total_bytes

    return run_tenant_job(self, "measure-storage", measure)
