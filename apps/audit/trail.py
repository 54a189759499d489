"""Writing and verifying the hash-chained audit trail.

`record()` writes one entry in the caller's transaction (so an audited change and its entry
commit together), under the tenant's append lock, chained to the previous entry by
SHA-256 over a canonical form of both. `verify()` walks the chain and also checks every
event of the log against the digest its entry recorded.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from apps.audit import anchors
from apps.audit.models import AuditEntry
from apps.core.db import connection
from apps.eventstore.context import current_origin
from apps.eventstore.locks import append_lock, in_command
from apps.eventstore.models import Event

GENESIS = "0" * 64
VERIFY_BATCH = 5000


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + _canonical(fields)).encode()).hexdigest()


def event_digest(event: Event) -> str:
    return hashlib.sha256(
        _canonical(
            {
                "position": event.position,
                "stream": event.stream,
                "version": event.version,
                "type": event.type,
                "schema_version": event.schema_version,
                "data": event.data,
                "metadata": event.metadata,
                "occurred_at": event.occurred_at.isoformat(),
            }
        ).encode()
    ).hexdigest()


def _hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor_id": entry.actor_id,
        "actor_role": entry.actor_role,
        "branch_id": entry.branch_id,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
        "request_id": entry.request_id,
        "ip": entry.ip,
    }


def record(
    action: str,
    *,
    actor: Any = None,
    actor_id: int | None = None,
    actor_role: str = "",
    target: str = "",
    branch_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Appends an entry in the caller's transaction.

    `actor` is a user (with `pk` and `role`); without one, `actor_id`/`actor_role` may name
    who acted, and an entry with neither is the system's.
    """
    origin = current_origin()
    with transaction.atomic(savepoint=not in_command()):
        append_lock()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('audit_auditentry', 'id')),"
                " (SELECT hash FROM audit_auditentry ORDER BY id DESC LIMIT 1)"
            )
            entry_id, previous = cursor.fetchone()
        entry = AuditEntry(
            id=entry_id,
            at=timezone.now(),
            actor_id=actor.pk if actor is not None else actor_id,
            actor_role=(actor.role if actor is not None else actor_role) or "system",
            branch_id=branch_id,
            action=action,
            target=target,
            detail=json.loads(_canonical(detail or {})),
            request_id=origin.request_id or "",
            ip=origin.client_ip,
            prev_hash=previous or GENESIS,
        )
        entry.hash = entry_hash(entry.prev_hash, _hashed_fields(entry))
        entry.save(force_insert=True)
    return entry


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head: str
    broken_at: int | None = None
    problem: str = ""
    anchors: int = 0


def verify() -> Verification:
    """Walks the chain from the start and the event log beside it; stops at the first entry
    or event that does not fit. Events were appended, and audited, in position order."""
    previous = GENESIS
    count = 0
    events = Event.objects.order_by("position").iterator(chunk_size=VERIFY_BATCH)
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=VERIFY_BATCH):
        if entry.prev_hash != previous:
            return Verification(
                False, count, previous, entry.id, "the link to the previous entry is broken"
            )
        if entry_hash(previous, _hashed_fields(entry)) != entry.hash:
            return Verification(False, count, previous, entry.id, "the entry was changed")
        if entry.action == "event.appended":
            event = next(events, None)
            position = int(entry.target.split(":", 1)[1])
            if event is None or event.position != position:
                return Verification(
                    False, count, previous, entry.id, f"event {position} is missing from the log"
                )
            if event_digest(event) != entry.detail.get("digest"):
                return Verification(
                    False, count, previous, entry.id, f"event {position} was changed"
                )
        previous, count = entry.hash, count + 1
    extra = next(events, None)
    if extra is not None:
        return Verification(
            False, count, previous, None, f"event {extra.position} has no audit entry"
        )
    # A chain rewritten and re-hashed whole is consistent in itself; its anchors are not.
    anchored, problem = anchors.check()
    if problem:
        return Verification(False, count, previous, None, problem, anchored)
    return Verification(True, count, previous, anchors=anchored)
