"""Reads of the integration store."""

from django.db.models import Count, QuerySet

from apps.integration.models import Channel, MappingVersion, Message


def channels() -> QuerySet[Channel]:
    return Channel.objects.order_by("name", "id")


def mappings(*, channel: Channel) -> QuerySet[MappingVersion]:
    return MappingVersion.objects.filter(channel=channel).order_by("-number")


def messages(*, status: str | None = None, channel: int | None = None) -> QuerySet[Message]:
    found = Message.objects.order_by("-id").prefetch_related("app_acks")
    if status:
        found = found.filter(status=status)
    if channel:
        found = found.filter(channel_id=channel)
    return found


def queue_counts() -> dict[str, int]:
    """Messages waiting for a person or a retry, by status (for /metrics)."""
    counts = {str(status): 0 for status in Message.QUEUED}
    waiting = Message.objects.filter(status__in=Message.QUEUED).values("status")
    for status, n in waiting.annotate(n=Count("id")).values_list("status", "n"):
        counts[status] = n
    return counts
