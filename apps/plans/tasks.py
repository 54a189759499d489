"""Beat's part of the lifecycle: changes by date (thin; safe to run twice)."""

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from apps.core.tenancy import first_fire
from apps.plans.commands import subscription_advance
from apps.plans.selectors import subscriptions_due


@shared_task
def advance_subscriptions() -> list[int]:
    """Beat, hourly: one task per tenant whose trial or grace has ended (found with the
    `subscription_due` index: the work follows the tenants that are due, not all tenants)."""
    if not first_fire("advance-subscriptions"):
        return []
    due = subscriptions_due(timezone.now())
    for tenant_id in due:
        advance_subscription.apply_async(args=(tenant_id,), headers={"_schema_name": "public"})
    return due


@shared_task(acks_late=True, autoretry_for=(DatabaseError,), retry_backoff=10, max_retries=3)
def advance_subscription(tenant_id: int) -> str | None:
    """Makes the change by date that is due for one tenant, if it still is."""
    subscription = subscription_advance(tenant_id=tenant_id)
    return subscription.status if subscription else None
