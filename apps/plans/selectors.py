"""Reads of the public schema's plans: what a tenant's subscription allows now."""

from dataclasses import dataclass
from datetime import date, datetime

from apps.core.shortlived import ShortLived
from apps.plans.models import Module, Plan, Statement, Subscription

# States whose months are charged (a trial's are free; a closed tenant is not billed).
BILLABLE = (
    Subscription.Status.ACTIVE,
    Subscription.Status.PAST_DUE,
    Subscription.Status.SUSPENDED,
)


@dataclass(frozen=True)
class Allowance:
    """What a tenant's subscription allows, as every request and command asks it."""

    status: str
    plan_slug: str
    plan_name: str
    modules: frozenset[str]
    limits: dict[str, int | None]

    @property
    def read_only(self) -> bool:
        return self.status in Subscription.READ_ONLY


def _load(schema_name: str) -> Allowance | None:
    subscription = (
        Subscription.objects.select_related("plan").filter(tenant__schema_name=schema_name).first()
    )
    if subscription is None:
        return None
    return Allowance(
        status=subscription.status,
        plan_slug=subscription.plan.slug,
        plan_name=subscription.plan.name,
        modules=subscription.module_codes(),
        limits=subscription.plan.limits(),
    )


# A change of plan or state reaches every web process within a second (`apps.core.shortlived`).
_allowances: ShortLived[Allowance] = ShortLived("plan allowances")


def allowance(schema_name: str) -> Allowance | None:
    """The subscription of the tenant in `schema_name`; None for a schema with none (the
    public schema, the template, a tenant being created): nothing is gated or limited there."""
    return _allowances.get(schema_name, lambda: _load(schema_name))


def module_named(code: str) -> Module | None:
    return Module.objects.filter(code=code).first()


def plans_with(code: str) -> list[Plan]:
    return list(Plan.objects.filter(modules__code=code).order_by("id"))


def subscriptions_due(now: datetime, limit: int = 1000) -> list[int]:
    """Tenants whose subscription changes by date now (one indexed query), earliest first."""
    return list(
        Subscription.objects.filter(due_at__lte=now)
        .order_by("due_at")
        .values_list("tenant_id", flat=True)[:limit]
    )


def tenants_to_bill(month: date, limit: int = 1000) -> list[int]:
    """Tenants with a paying subscription and no statement for `month` yet (one query)."""
    billed = Statement.objects.filter(month=month).values("tenant_id")
    return list(
        Subscription.objects.filter(status__in=BILLABLE)
        .exclude(tenant_id__in=billed)
        .order_by("tenant_id")
        .values_list("tenant_id", flat=True)[:limit]
    )
