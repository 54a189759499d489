"""Subscription commands: a sign-up's trial, the operator's changes of plan and state, and
the changes by date that beat makes (trial end, grace end), and the monthly statements.

Subscriptions live in the public schema, which has no event log: each change appends a
`SubscriptionChange` row (the public-schema history) and an entry to the tenant's own audit
trail, in one transaction with the change.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.audit.trail import record
from apps.core.errors import Conflict, NotFound
from apps.metering.selectors import usage_of
from apps.plans import statements
from apps.plans.models import Plan, Statement, StatementNumber, Subscription, SubscriptionChange
from apps.tenants.models import Tenant

Status = Subscription.Status
BY_DATE = "beat"


def plan_for_kind(kind: str) -> Plan:
    plan = Plan.objects.filter(for_kind=kind).first()
    if plan is None:
        raise NotFound(f"No plan is offered for a {kind}.")
    return plan


def subscription_start_trial(
    *, actor: str, tenant: Tenant, now: datetime | None = None
) -> Subscription:
    """A new tenant's subscription: a trial of the plan for its kind (all modules until the
    trial ends, `Plan.trial_days` from now). Runs inside the onboarding transaction."""
    now = now or timezone.now()
    plan = plan_for_kind(tenant.kind)
    with transaction.atomic():
        subscription = Subscription.objects.create(
            tenant=tenant,
            plan=plan,
            status=Status.TRIAL,
            started_at=now,
            trial_ends_at=now + timedelta(days=plan.trial_days),
            changed_at=now,
        )
        subscription.due_at = subscription.next_due(now)
        subscription.save(update_fields=["due_at"])
        _note(subscription, "", actor=actor, reason="sign-up", now=now)
    return subscription


def subscription_change_status(
    *, actor: str, tenant: Tenant, to: str, reason: str = "", now: datetime | None = None
) -> Subscription:
    """Moves the subscription to `to` if the lifecycle allows it (409 otherwise); nothing
    happens when it is there already. `actor` is the operator's email, or "beat"."""
    now = now or timezone.now()
    with transaction.atomic():
        subscription = _locked(tenant)
        if subscription.status == to:
            return subscription
        if to not in Subscription.TRANSITIONS[subscription.status]:
            raise Conflict(
                f"A subscription that is {subscription.get_status_display().lower()} cannot "
                f"become {Status(to).label.lower()}."
            )
        was = subscription.status
        subscription.status = to
        subscription.grace_ends_at = subscription.grace_end(now) if to == Status.PAST_DUE else None
        subscription.due_at = subscription.next_due(now)
        subscription.changed_at = now
        subscription.save()
        _note(subscription, was, actor=actor, reason=reason, now=now)
    return subscription


def subscription_change_plan(
    *, actor: str, tenant: Tenant, plan: Plan, reason: str = "", now: datetime | None = None
) -> Subscription:
    """Puts the tenant on another plan; its state stays as it is."""
    now = now or timezone.now()
    with transaction.atomic():
        subscription = _locked(tenant)
        if subscription.plan_id == plan.pk:
            return subscription
        subscription.plan = plan
        subscription.changed_at = now
        subscription.save()
        _note(
            subscription, subscription.status, actor=actor, reason=reason or "plan changed", now=now
        )
    return subscription


def subscription_advance(*, tenant_id: int, now: datetime | None = None) -> Subscription | None:
    """The change by date that is due for one tenant, if it still is: a trial that ended
    becomes past due (its grace starts), a past-due one whose grace ended is suspended.
    Safe to run twice; a tenant paid meanwhile is left alone."""
    now = now or timezone.now()
    with transaction.atomic():
        subscription = (
            Subscription.objects.select_for_update()
            .select_related("plan", "tenant")
            .filter(tenant_id=tenant_id, due_at__lte=now)
            .first()
        )
        if subscription is None:
            return None
        if subscription.status == Status.TRIAL:
            return subscription_change_status(
                actor=BY_DATE, tenant=subscription.tenant, to=Status.PAST_DUE,
                reason="trial ended", now=now,
            )  # fmt: skip
        if subscription.status == Status.PAST_DUE:
            return subscription_change_status(
                actor=BY_DATE, tenant=subscription.tenant, to=Status.SUSPENDED,
                reason="grace period ended", now=now,
            )  # fmt: skip
    return subscription


def _locked(tenant: Tenant) -> Subscription:
    subscription = (
        Subscription.objects.select_for_update()
        .select_related("plan")
        .filter(tenant=tenant)
        .first()
    )
    if subscription is None:
        raise NotFound("This tenant has no subscription.")
    return subscription


def _note(subscription: Subscription, was: str, *, actor: str, reason: str, now: datetime) -> None:
    SubscriptionChange.objects.create(
        tenant=subscription.tenant,
        at=now,
        from_status=was,
        to_status=subscription.status,
        plan=subscription.plan,
        by=actor[:254],
        reason=reason[:200],
    )
    # The tenant's own trail says it too (by whom: the platform, not one of its staff).
    with schema_context(subscription.tenant.schema_name):
        record(
            "subscription.changed",
            actor_role="platform",
            target=f"subscription:{subscription.pk}",
            detail={
                "from": was,
                "to": subscription.status,
                "plan": subscription.plan.slug,
                "by": actor[:254],
                "reason": reason[:200],
            },
        )


def statement_issue(*, actor: str, tenant: Tenant, month: date) -> Statement:
    """The tenant's statement for `month` (its first day): the plan's charges for the month's
    usage (the tenant's `usage` read model) plus 18 % GST, numbered next in its financial year.
    Issued once: a second call returns the first statement."""
    month = month.replace(day=1)
    existing = Statement.objects.filter(tenant=tenant, month=month).first()
    if existing is not None:
        return existing
    with schema_context(tenant.schema_name):
        usage = usage_of(month)
    with transaction.atomic():
        subscription = _locked(tenant)
        existing = Statement.objects.filter(tenant=tenant, month=month).first()
        if existing is not None:
            return existing
        lines = statements.charges(subscription.plan, usage)
        subtotal = sum((line.amount for line in lines), Decimal("0.00"))
        gst = statements.gst_on(subtotal)
        year = statements.financial_year(month)
        StatementNumber.objects.get_or_create(financial_year=year)
        counter = StatementNumber.objects.select_for_update().get(financial_year=year)
        counter.last += 1
        counter.save()
        statement = Statement.objects.create(
            tenant=tenant,
            month=month,
            number=f"MM/{year}/{counter.last:06d}",
            plan=subscription.plan,
            lines=[line.as_dict() for line in lines],
            subtotal=subtotal,
            gst_rate=statements.GST_RATE,
            gst=gst,
            total=subtotal + gst,
            gstin=subscription.gstin,
            issued_at=timezone.now(),
        )
        with schema_context(tenant.schema_name):
            record(
                "subscription.statement",
                actor_role="platform",
                target=f"statement:{statement.pk}",
                detail={"number": statement.number, "total": str(statement.total), "by": actor},
            )
    return statement


def statements_reattach(*, actor: None, tenant: Tenant, numbers: list[str]) -> int:
    """Gives back to a restored tenant its statements that lost their tenant when the tenant
    was removed (restored over itself, or removed and restored from its backup); a statement
    of another tenant is never taken. Returns how many."""
    return Statement.objects.filter(number__in=numbers, tenant__isnull=True).update(tenant=tenant)
