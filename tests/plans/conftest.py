"""Plan fixtures: the main tenant's subscription on a plan of the test's choosing."""

from collections.abc import Callable

import pytest
from django.utils import timezone

from apps.plans.models import Module, Plan, Subscription
from apps.plans.modules import SCHEDULING
from apps.tenants.models import Tenant

PutOnPlan = Callable[..., Subscription]


@pytest.fixture
def put_on_plan(tenant: Tenant) -> PutOnPlan:
    """Puts the main tenant's subscription on `plan` (default: a plan of scheduling only) in
    `status` (default: active, where the plan's modules apply), as a test's world."""

    def put(plan: Plan | None = None, status: str = Subscription.Status.ACTIVE) -> Subscription:
        if plan is None:
            plan = Plan.objects.create(
                slug="bare", name="Bare", pricing=Plan.Pricing.PER_DOCTOR, for_kind="bare"
            )
            plan.modules.set(Module.objects.filter(code=SCHEDULING))
        subscription = Subscription.objects.get(tenant=tenant)
        subscription.plan, subscription.status = plan, status
        subscription.due_at, subscription.changed_at = None, timezone.now()
        subscription.save()
        return subscription

    return put
