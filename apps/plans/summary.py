"""What the owner sees of the subscription: the plan, its modules and limits, and this
month's usage from the tenant's `usage` read model."""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from apps.lifecycle.models import StorageMonth
from apps.lifecycle.selectors import storage_of
from apps.metering.selectors import usage_by_channel, usage_of
from apps.plans.models import Subscription
from apps.plans.modules import MODULES


@dataclass(frozen=True)
class Summary:
    subscription: Subscription
    modules: frozenset[str]
    period_start: date
    period_end: date
    usage: dict[str, int]
    by_channel: dict[str, int]
    storage: StorageMonth | None = None

    def as_dict(self) -> dict[str, object]:
        subscription = self.subscription
        return {
            "plan": subscription.plan.slug,
            "plan_name": subscription.plan.name,
            "status": subscription.status,
            "modules": [code for code in MODULES if code in self.modules],
            "period": {"start": self.period_start, "end": self.period_end},
            "usage": self.usage,
            "messages_by_channel": self.by_channel,
            "storage": None
            if self.storage is None
            else {
                "schema_bytes": self.storage.schema_bytes,
                "warehouse_bytes": self.storage.warehouse_bytes,
                "files_bytes": self.storage.files_bytes,
                "peak_bytes": self.storage.peak_bytes,
                "measured_at": self.storage.measured_at,
            },
            "limits": subscription.plan.limits(),
            "trial_ends_at": subscription.trial_ends_at,
            "grace_ends_at": subscription.grace_ends_at,
        }


def billing_period(now: datetime) -> tuple[date, date]:
    """The calendar month around `now` on the platform's billing clock."""
    today = now.astimezone(ZoneInfo(settings.MYMEDIC_BILLING_TIMEZONE)).date()
    start = today.replace(day=1)
    end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    return start, end


def subscription_summary(schema_name: str, now: datetime | None = None) -> Summary | None:
    """The tenant's subscription and this month's usage (read in the tenant's schema)."""
    subscription = (
        Subscription.objects.select_related("plan").filter(tenant__schema_name=schema_name).first()
    )
    if subscription is None:
        return None
    start, end = billing_period(now or timezone.now())
    # Storage is measured by the platform (apps.lifecycle), not counted from the log.
    storage = storage_of(subscription.tenant_id, start)
    return Summary(
        subscription=subscription,
        modules=subscription.module_codes(),
        period_start=start,
        period_end=end,
        usage={**usage_of(start), "storage_bytes": storage.total_bytes if storage else 0},
        by_channel=usage_by_channel(start)["messages"],
        storage=storage,
    )


def last_month(now: datetime) -> date:
    """The first day of the month before `now`'s on the platform's billing clock."""
    start, _ = billing_period(now)
    return (start - timedelta(days=1)).replace(day=1)
