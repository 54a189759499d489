"""What the relay publishes for one event: subject, message id and payload (docs/API.md,
"Event bus"). The payload is the event as `GET /api/v1/events/` shows it, plus the tenant's
slug; events carry no PHI, so neither do the messages."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from apps.eventstore.api import EventSerializer

STREAM = "MYMEDIC_EVENTS"
SUBJECT_PREFIX = "mymedic.events"
# The event's fields as the events API shows them (one home for the shape).
FIELDS = tuple(EventSerializer.Meta.fields)


@dataclass(frozen=True)
class Message:
    subject: str
    key: str  # the tenant's slug: Kafka's partition key
    message_id: str  # "{slug}:{position}": JetStream de-duplicates on it
    position: int
    payload: bytes


def stream_type(stream: str) -> str:
    """`appointment-12` → `appointment`; `doctor-leave-3` → `doctor-leave` (ids are integers)."""
    return stream.rsplit("-", 1)[0]


def subject(region: str, slug: str, stream: str) -> str:
    return f"{SUBJECT_PREFIX}.{region}.{slug}.{stream_type(stream)}"


def message_id(slug: str, position: int) -> str:
    return f"{slug}:{position}"


def occurred(value: datetime) -> str:
    """An instant as the events API writes it (DRF's DateTimeField in UTC)."""
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def message(*, region: str, slug: str, row: dict[str, Any]) -> Message:
    """The message for one event row (a mapping with the events API's fields)."""
    body = {name: row[name] for name in FIELDS}
    body["occurred_at"] = occurred(row["occurred_at"])
    body["tenant"] = slug
    return Message(
        subject=subject(region, slug, row["stream"]),
        key=slug,
        message_id=message_id(slug, row["position"]),
        position=row["position"],
        payload=json.dumps(body, cls=DjangoJSONEncoder, separators=(",", ":")).encode(),
    )
