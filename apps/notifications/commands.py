"""Notification commands: the tenant's settings, and a person's retry of a dead letter."""

from datetime import datetime

from django.utils import timezone

from apps.audit.trail import record
from apps.clinic.access import require_role
from apps.clinic.models import WHOLE_TENANT_ROLES, User
from apps.core.errors import Conflict, InvalidInput
from apps.eventstore.store import command
from apps.notifications import events
from apps.notifications.backends import CHANNELS
from apps.notifications.models import Delivery, NotificationSettings

MAX_OFFSET_MINUTES = 14 * 24 * 60


@command
def notification_settings_update(
    *,
    actor: User | None,
    reminder_offsets: list[int],
    enabled_channels: list[str],
    default_channel: str,
) -> NotificationSettings:
    require_role(actor, WHOLE_TENANT_ROLES)
    offsets = sorted({int(o) for o in reminder_offsets}, reverse=True)
    if any(not 1 <= o <= MAX_OFFSET_MINUTES for o in offsets) or len(offsets) > 5:
        raise InvalidInput(
            "Give up to 5 reminder offsets, each 1 minute to 14 days (in minutes).",
            field="reminder_offsets",
        )
    channels = [c for c in CHANNELS if c in set(enabled_channels)]
    if len(channels) != len(set(enabled_channels)) or not channels:
        raise InvalidInput(
            f"Enable one or more of {', '.join(CHANNELS)}.", field="enabled_channels"
        )
    if default_channel not in channels:
        raise InvalidInput("The default channel must be enabled.", field="default_channel")
    settings = NotificationSettings.for_update()
    settings.reminder_offsets = offsets
    settings.enabled_channels = channels
    settings.default_channel = default_channel
    settings.record(
        events.NOTIFICATION_SETTINGS_CHANGED,
        {
            "reminder_offsets": offsets,
            "enabled_channels": channels,
            "default_channel": default_channel,
        },
        actor=actor,
    )
    settings.save()
    return settings


@command
def delivery_retry(
    *, actor: User | None, delivery: Delivery, now: datetime | None = None
) -> Delivery:
    """Sends a dead letter again (a person decided to, also after an unknown outcome)."""
    require_role(actor, WHOLE_TENANT_ROLES)
    delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.status != Delivery.Status.DEAD:
        raise Conflict("Only a dead letter can be retried.")
    previous = delivery.last_error
    delivery.status = Delivery.Status.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now or timezone.now()
    delivery.last_error = ""
    delivery.save()
    record(
        "notification.retry",
        actor=actor,
        target=f"delivery:{delivery.pk}",
        branch_id=delivery.branch_id,
        detail={"key": delivery.key, "previous_error": previous[:200]},
    )
    return delivery
