"""Beat tasks of scheduling. Thin and safe to run twice."""

from typing import Any

from celery import shared_task

from apps.core.db import connection
from apps.core.tenancy import for_each_tenant
from apps.scheduling.waitlist import slot_holds_expire


@shared_task
def expire_slot_holds() -> dict[str, int]:
    """Every minute: in each tenant, expired holds pass to the next patient waiting."""

    def expire(tenant: Any) -> int:
        return slot_holds_expire()

    expired = for_each_tenant(expire)
    connection.set_schema_to_public()
    return expired
