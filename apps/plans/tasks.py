"""Beat's part of the lifecycle: changes by date (thin; safe to run twice)."""

from datetime import date

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from apps.core.tenancy import first_fire
from apps.plans.commands import BY_DATE, statement_issue, subscription_advance
from apps.plans.selectors import subscriptions_due, tenants_to_bill
from apps.plans.summary import last_month
from apps.tenants.models import Tenant


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


@shared_task
def issue_statements() -> list[int]:
    """Beat, daily: one task per paying tenant without a statement for last month."""
    if not first_fire("issue-statements"):
        return []
    month = last_month(timezone.now())
    tenants = tenants_to_bill(month)
    for tenant_id in tenants:
        issue_statement.apply_async(
            args=(tenant_id, month.isoformat()), headers={"_schema_name": "public"}
        )
    return tenants


@shared_task(acks_late=True, autoretry_for=(DatabaseError,), retry_backoff=10, max_retries=3)
def issue_statement(tenant_id: int, month: str) -> str | None:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return None
    return statement_issue(actor=BY_DATE, tenant=tenant, month=date.fromisoformat(month)).number
