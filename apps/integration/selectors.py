"""Reads of the integration store."""

from django.db.models import QuerySet

from apps.integration.models import Channel, Message


def channels() -> QuerySet[Channel]:
    return Channel.objects.order_by("name", "id")


def messages(*, status: str | None = None, channel: int | None = None) -> QuerySet[Message]:
    found = Message.objects.order_by("-id")
    if status:
        found = found.filter(status=status)
    if channel:
        found = found.filter(channel_id=channel)
    return found
