"""Audit replay of a channel's stored messages.

`replay_check` applies a time range of a channel's messages, in the order they were stored,
into a scratch schema made from the tenant template (inside one transaction that is rolled
back: the scratch schema, its rows and its events never commit, and nothing is sent or
projected from them), then compares what the feed alone made with the live patients the
same messages made. The report names ids, control ids, field names and counts: never a
value of a patient.

`resend` sends a time range of a channel's stored messages to another system over MLLP (a
new HIS taking over), in order, one at a time, waiting for each ACK and retrying.
"""

import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django_tenants.utils import schema_context

from apps.audit import trail
from apps.clinic.access import require_role
from apps.clinic.models import WHOLE_TENANT_ROLES, User
from apps.core import keys
from apps.core.db import connection
from apps.core.errors import DomainError
from apps.integration import events
from apps.integration.commands import apply_message, mapping_of
from apps.integration.mapping import MappingError
from apps.integration.models import Admission, Channel, Message
from apps.integration.parsing import Unparseable
from apps.scheduling.models import Patient
from apps.tenants import spares

# The patient fields compared (names only ever appear in the report).
COMPARED = ("name", "phone", "date_of_birth", "merged", "admissions")
SCRATCH_PREFIX = "hl7replay_"


def messages_in_range(channel: Channel, start: datetime, end: datetime) -> Iterator[Message]:
    """The channel's stored messages received in [start, end), in the order they were
    stored (a range query on the time they were received, fit for a table partitioned by
    it)."""
    found = Message.objects.filter(channel=channel, received_at__gte=start, received_at__lt=end)
    yield from found.order_by("id").iterator(chunk_size=500)


@dataclass
class RecordDiff:
    live_patient: int | None
    control_ids: list[str]
    fields: list[str]


@dataclass
class ReplayReport:
    channel: int
    start: str
    end: str
    messages: int = 0
    live: dict[str, int] = field(default_factory=dict)  # status → count
    scratch: dict[str, int] = field(default_factory=dict)  # applied | error → count
    patients_live: int = 0
    patients_scratch: int = 0
    admissions_live: int = 0
    admissions_scratch: int = 0
    different: list[RecordDiff] = field(default_factory=list)
    scratch_errors: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.messages} messages; live {dict(sorted(self.live.items()))}, scratch "
            f"{dict(sorted(self.scratch.items()))}; patients live {self.patients_live} / scratch "
            f"{self.patients_scratch}; admissions live {self.admissions_live} / scratch "
            f"{self.admissions_scratch}; {len(self.different)} patients differ"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel, "from": self.start, "to": self.end,
            "messages": self.messages, "live": self.live, "scratch": self.scratch,
            "patients": {"live": self.patients_live, "scratch": self.patients_scratch},
            "admissions": {"live": self.admissions_live, "scratch": self.admissions_scratch},
            "different": [
                {"live_patient": d.live_patient, "control_ids": d.control_ids, "fields": d.fields}
                for d in self.different
            ],
            "scratch_errors": self.scratch_errors,
        }  # fmt: skip


def _current(patient_id: int) -> Patient:
    patient = Patient.objects.get(pk=patient_id)
    while patient.merged_into_id is not None:
        patient = Patient.objects.get(pk=patient.merged_into_id)
    return patient


def _state(patient_id: int, merged: bool) -> dict[str, Any]:
    """The compared fields of a patient (and the stays the channel reported for it)."""
    patient = _current(patient_id)
    return {
        "name": patient.name,
        "phone": patient.phone,
        "date_of_birth": patient.date_of_birth,
        "merged": merged or patient.pk != patient_id,
        "admissions": sorted(
            Admission.objects.filter(patient=patient).values_list("status", flat=True)
        ),
    }


class _Scratch:
    """A schema made from the tenant template under a name of its own, inside the caller's
    transaction: rolling that back drops it."""

    def __init__(self) -> None:
        self.name = f"{SCRATCH_PREFIX}{secrets.token_hex(6)}"
        # Read (or dumped and kept) before the transaction that is rolled back.
        self.recipe = str(spares.recipe())

    def make(self) -> None:
        statements = self.recipe.replace(spares.PLACEHOLDER, self.name)
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{self.name}"')
            cursor.execute(statements)
        with schema_context(self.name):
            keys.ensure_tenant_key()


def replay_check(
    *,
    actor: User | None,
    channel: Channel,
    start: datetime,
    end: datetime,
    progress: Callable[[int], None] = lambda n: None,
) -> ReplayReport:
    """Replays the channel's messages received in [start, end) into a scratch schema and
    compares the result with live; audited. Runs in the tenant's schema."""
    require_role(actor, WHOLE_TENANT_ROLES)
    live_schema = connection.schema_name
    report = ReplayReport(channel=channel.pk, start=start.isoformat(), end=end.isoformat())
    mapping = mapping_of(channel)
    # (control id, live patient id, raw) in stored order, read before leaving the schema.
    stored: list[tuple[str, int | None, str]] = []
    with keys.remembered():
        for message in messages_in_range(channel, start, end):
            report.live[message.status] = report.live.get(message.status, 0) + 1
            stored.append((message.control_id, message.patient_id, message.raw))
    report.messages = len(stored)
    live_ids = {pk for _, pk, _ in stored if pk is not None}
    live_states = {pk: _state(pk, merged=False) for pk in live_ids}
    report.patients_live = len({_current(pk).pk for pk in live_ids})
    report.admissions_live = sum(len(s["admissions"]) for s in live_states.values())
    scratch = _Scratch()
    scratch_of: dict[str, int] = {}
    with transaction.atomic():
        sid = transaction.savepoint()
        try:
            scratch.make()
            with schema_context(scratch.name):
                copy = Channel(
                    name=channel.name, sending_facility=channel.sending_facility,
                    direction=channel.direction, hold_on_error=channel.hold_on_error,
                    max_retries=channel.max_retries,
                )  # fmt: skip
                copy.record(events.HL7_CHANNEL_ADDED, {"direction": channel.direction}, actor=None)
                copy.save()
                for control_id, _, raw in stored:
                    try:
                        with transaction.atomic():
                            patient = apply_message(channel=copy, raw=raw, mapping=mapping)
                    except (DomainError, MappingError, Unparseable) as exc:
                        report.scratch["error"] = report.scratch.get("error", 0) + 1
                        report.scratch_errors.append({"control_id": control_id, "error": str(exc)})
                    else:
                        report.scratch["applied"] = report.scratch.get("applied", 0) + 1
                        if patient is not None:
                            scratch_of[control_id] = patient.pk
                    progress(1)
                scratch_states = {pk: _state(pk, merged=False) for pk in set(scratch_of.values())}
                report.patients_scratch = len({_current(pk).pk for pk in scratch_of.values()})
                report.admissions_scratch = sum(
                    len(s["admissions"]) for s in scratch_states.values()
                )
            by_live: dict[int, list[str]] = {}
            for control_id, live_pk, _ in stored:
                if live_pk is not None:
                    by_live.setdefault(live_pk, []).append(control_id)
                elif control_id in scratch_of:
                    # Live left it in the error queue; the feed alone applied it.
                    report.different.append(RecordDiff(None, [control_id], ["patient"]))
            for live_pk, control_ids in sorted(by_live.items()):
                made = {scratch_of[c] for c in control_ids if c in scratch_of}
                if len(made) != 1:
                    report.different.append(RecordDiff(live_pk, control_ids, ["patient"]))
                    continue
                theirs, ours = live_states[live_pk], scratch_states[made.pop()]
                changed = [name for name in COMPARED if theirs[name] != ours[name]]
                if changed:
                    report.different.append(RecordDiff(live_pk, control_ids, changed))
        finally:
            transaction.savepoint_rollback(sid)
            connection.set_schema(live_schema)
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{scratch.name}" CASCADE')
        trail.record(
            "hl7.replay.check", actor=actor, target=f"hl7channel:{channel.pk}",
            detail={"from": report.start, "to": report.end, "messages": report.messages,
                    "different": len(report.different)},
        )  # fmt: skip
    return report


@dataclass
class ResendOutcome:
    sent: int = 0
    retries: int = 0
    stopped_at: str = ""  # the control id it stopped at, when it gave up
    codes: dict[str, int] = field(default_factory=dict)


class MllpSender:
    """One MLLP connection to a peer, opened again after a failure."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.address, self.timeout = (host, port), timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def send(self, text: str) -> tuple[str, str]:
        """(MSA-1, MSA-3) of the peer's ACK; raises OSError when none came."""
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=self.timeout)
            self.buffer = b""
        self.sock.sendall(b"\x0b" + text.encode() + b"\x1c\x0d")
        while b"\x1c\x0d" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("The peer closed the connection without an ACK.")
            self.buffer += chunk
        data, _, self.buffer = self.buffer.partition(b"\x1c\x0d")
        body = data.lstrip(b"\x0b").decode(errors="replace")
        for segment in body.replace("\n", "\r").split("\r"):
            if segment.startswith("MSA|"):
                fields = segment.split("|") + ["", "", ""]
                return fields[1], fields[3][:120]
        return "", "The answer had no MSA segment."

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


ACCEPTED = ("AA", "CA")


def resend(
    *,
    actor: User | None,
    channel: Channel,
    start: datetime,
    end: datetime,
    host: str,
    port: int,
    retries: int = 3,
    timeout: float = 10.0,
    pause: float = 1.0,
    progress: Callable[[int], None] = lambda n: None,
) -> ResendOutcome:
    """Sends the channel's messages received in [start, end) to `host:port`, in the order
    they were stored, each only after the one before was accepted (AA or CA). A message
    without an ACK, or answered otherwise, is sent again up to `retries` times (`pause`
    seconds apart, doubling); then it stops there, and a later run can start from that
    message's time. Audited."""
    require_role(actor, WHOLE_TENANT_ROLES)
    outcome = ResendOutcome()
    sender = MllpSender(host, port, timeout)
    try:
        with keys.remembered():
            for message in messages_in_range(channel, start, end):
                text = message.raw
                for attempt in range(retries + 1):
                    try:
                        code, _ = sender.send(text)
                    except OSError:
                        sender.close()
                        code = ""
                    outcome.codes[code or "none"] = outcome.codes.get(code or "none", 0) + 1
                    if code in ACCEPTED:
                        break
                    if attempt < retries:
                        outcome.retries += 1
                        time.sleep(pause * 2**attempt)
                else:
                    outcome.stopped_at = message.control_id
                    break
                outcome.sent += 1
                progress(1)
    finally:
        sender.close()
        trail.record(
            "hl7.replay.resend", actor=actor, target=f"hl7channel:{channel.pk}",
            detail={"from": start.isoformat(), "to": end.isoformat(), "to_host": host,
                    "to_port": port, "sent": outcome.sent, "stopped_at": outcome.stopped_at},
        )  # fmt: skip
    return outcome
