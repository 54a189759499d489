"""What the relay publishes for one event: subject, message id and payload (docs/API.md,
"Event bus"). The payload is the event as `GET /api/v1/events/` shows it, plus the tenant's
slug; events carry no PHI, so neither do the messages."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json import dumps
from typing import Any

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


# The payload is written out rather than built as a dict and encoded: `data` arrives as the
# JSON text PostgreSQL keeps, and copying it as it is makes the relay about twice as fast.
# The fields are those of the events API, in its order (checked here, and by the tests against
# what `GET /api/v1/events/` answers).
COLUMNS = ("position", "type", "stream", "version", "occurred_at", "data")
if COLUMNS != FIELDS:
    raise ImportError(f"the event bus's payload no longer matches the events API: {FIELDS}")
PAYLOAD = (
    '{"position":%d,"type":%s,"stream":%s,"version":%d,"occurred_at":"%s","data":%s,"tenant":%s}'
)


def message(*, region: str, slug: str, row: Sequence[Any]) -> Message:
    """The message for one event row: `COLUMNS`, with `data` as JSON text."""
    position, event_type, stream, version, occurred_at, data = row
    when = occurred(occurred_at)
    text = PAYLOAD % (
        position, dumps(event_type), dumps(stream), version, when, data, dumps(slug)
    )  # fmt: skip
    return Message(
        subject=subject(region, slug, stream),
        key=slug,
        message_id=message_id(slug, position),
        position=position,
        payload=text.encode(),
    )
