"""What the relay publishes for one event: subject, message id and payload (docs/API.md,
"Event bus"). The payload is the event as `GET /api/v1/events/` shows it, plus the tenant's
slug; events carry no PHI, so neither do the messages."""

from collections.abc import Sequence
from dataclasses import dataclass
from json import dumps
from typing import Any

from apps.eventstore.api import EventSerializer

STREAM = "MYMEDIC_EVENTS"
SUBJECT_PREFIX = "mymedic.events"
# The event's fields as the events API shows them (one home for the shape).
FIELDS = tuple(EventSerializer.Meta.fields)


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    key: str  # the tenant's slug: Kafka's partition key
    message_id: str  # "{slug}:{position}": JetStream de-duplicates on it
    position: int
    payload: bytes


# PostgreSQL writes each payload as it reads the rows (`PAYLOAD_SQL`): `data` is copied as
# the JSON text it keeps, never parsed, and nothing per event is encoded in Python (measured:
# docs/PERFORMANCE.md, "The event-bus relay"). The fields are those of the events API, in its
# order (checked here, and by the tests against what `GET /api/v1/events/` answers);
# `occurred_at` as DRF writes an instant in UTC: microseconds only when there are any, then Z.
COLUMNS = ("position", "type", "stream", "version", "occurred_at", "data")
if COLUMNS != FIELDS:
    raise ImportError(f"the event bus's payload no longer matches the events API: {FIELDS}")
OCCURRED_SQL = """to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN date_part('microseconds', occurred_at)::bigint %% 1000000 = 0 THEN ''
            ELSE to_char(occurred_at AT TIME ZONE 'UTC', '.US') END || 'Z'"""
PAYLOAD_SQL = f"""'{{"position":' || position || ',"type":' || to_json(type)::text
    || ',"stream":' || to_json(stream)::text || ',"version":' || version
    || ',"occurred_at":"' || {OCCURRED_SQL} || '","data":' || data::text
    || ',"tenant":' || %(tenant)s || '}}'"""
# `appointment-12` → `appointment` (see `stream_type`).
STREAM_TYPE_SQL = "left(stream, length(stream) - strpos(reverse(stream), '-'))"
# The rows `messages` takes, after a position, in order: SELECT_SQL, the tenant's event table
# (a quoted identifier), AFTER_SQL.
SELECT_SQL = f"SELECT position, {STREAM_TYPE_SQL}, {PAYLOAD_SQL} FROM "  # noqa: S608 (constants)
AFTER_SQL = " WHERE position > %(after)s ORDER BY position LIMIT %(limit)s"


def tenant_json(slug: str) -> str:
    """The slug as the JSON string `PAYLOAD_SQL` takes for its `tenant` field."""
    return dumps(slug)


def messages(*, region: str, slug: str, rows: Sequence[Sequence[Any]]) -> list[Message]:
    """The messages for rows of `ROWS_SQL`: (position, stream type, payload text)."""
    prefix, id_prefix = f"{SUBJECT_PREFIX}.{region}.{slug}.", f"{slug}:"
    return [
        Message(prefix + kind, slug, f"{id_prefix}{position}", position, payload.encode())
        for position, kind, payload in rows
    ]
