"""Integration commands: channels, storing and applying HL7 messages, the error queue.

Storing and applying are separate transactions on purpose: a message is committed before
its ACK and before anything is applied, so a crash between the two loses nothing (the next
message of the channel, a resend, or the listener's start applies what was left).
"""

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from apps.audit import trail
from apps.clinic.access import require_role
from apps.clinic.models import WHOLE_TENANT_ROLES, User
from apps.core import keys
from apps.core.db import connection
from apps.core.errors import Conflict, DomainError, InvalidInput
from apps.core.tenancy import note_due
from apps.eventstore.locks import callers_savepoint, holding_append_lock
from apps.eventstore.models import AppendBatch
from apps.eventstore.store import command, head_position, take_ids
from apps.integration import events
from apps.integration.mapping import (
    DEFAULT_MAPPING,
    Extracted,
    MappingError,
    MappingInvalid,
    NotHandled,
    extract,
    validate,
)
from apps.integration.models import (
    Admission,
    ApplicationAck,
    Channel,
    MappingVersion,
    Message,
    OutboundMessage,
    PatientLink,
    link_index,
    link_indexes,
)
from apps.integration.outbound import SEND_JOB, wake_sender
from apps.integration.parsing import Header, Unparseable, application_ack, parse
from apps.scheduling.commands import (
    patient_changes,
    patient_merge,
    patient_prepared,
    patient_register,
    patient_update,
)
from apps.scheduling.models import Patient

log = logging.getLogger("mymedic.integration")

# Advisory lock classes: one serializes storing per channel (so ids follow arrival order),
# the other applying per channel (so messages are applied in id order, one at a time).
STORE_LOCK = 0x484C3753  # "HL7S"
APPLY_LOCK = 0x484C3741  # "HL7A"
RETRY_BASE = timedelta(seconds=30)
# The periodic job that retries the error queue (apps.integration.tasks); a message stored
# and not applied after this long (its listener died) is applied by that job too.
RETRY_JOB = "retry-hl7-messages"
LEFT_BEHIND = timedelta(seconds=60)
MAX_RETRIES = 10
# A host name (RFC 1123 labels) or an IPv4/IPv6 address: what a channel may send to.
HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|[0-9A-Fa-f:.]{2,45}")


@command
def channel_add(
    *,
    actor: User | None,
    name: str,
    sending_facility: str,
    direction: str,
    hold_on_error: bool = False,
    max_retries: int = 3,
    host: str = "",
    port: int | None = None,
) -> Channel:
    require_role(actor, WHOLE_TENANT_ROLES)
    facility = sending_facility.strip()
    if direction not in Channel.Direction.values:
        raise InvalidInput("The direction is inbound or outbound.", field="direction")
    _check_channel(
        name=name.strip(), facility=facility, direction=direction, host=host.strip(), port=port,
        max_retries=max_retries,
    )  # fmt: skip
    if Channel.objects.filter(sending_facility=facility, direction=direction).exists():
        raise Conflict("This facility already has a channel in that direction.")
    channel = Channel(
        name=name.strip(),
        sending_facility=facility,
        direction=direction,
        hold_on_error=hold_on_error,
        max_retries=max_retries,
        host=host.strip(),
        port=port,
        start_position=head_position(),
    )
    channel.record(
        events.HL7_CHANNEL_ADDED,
        {"direction": direction, "hold_on_error": hold_on_error, "max_retries": max_retries},
        actor=actor,
    )
    channel.save()
    return channel


# What an analyst may change on a channel (its direction and history stay as they are).
EDITABLE = ("name", "sending_facility", "hold_on_error", "max_retries", "host", "port")


@command
def channel_edit(*, actor: User | None, channel: Channel, **changes: Any) -> Channel:
    """Changes a channel's name, routing key (the facility code), hold-on-error, retry cap,
    or outbound address. Appends an event naming the fields changed and audits it; a save
    that changes nothing appends nothing. The listener sees it at its next batch."""
    require_role(actor, WHOLE_TENANT_ROLES)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"A channel's {sorted(unknown)[0]} is not edited.", field="channel")
    channel = Channel.objects.select_for_update().get(pk=channel.pk)
    wanted = {**{name: getattr(channel, name) for name in EDITABLE}, **changes}
    wanted["name"] = str(wanted["name"]).strip()
    wanted["sending_facility"] = facility = str(wanted["sending_facility"]).strip()
    wanted["host"] = str(wanted["host"] or "").strip()
    _check_channel(
        name=wanted["name"], facility=facility, direction=channel.direction,
        host=wanted["host"], port=wanted["port"], max_retries=wanted["max_retries"],
    )  # fmt: skip
    taken = Channel.objects.filter(sending_facility=facility, direction=channel.direction)
    if taken.exclude(pk=channel.pk).exists():
        raise Conflict("This facility already has a channel in that direction.")
    changed = sorted(name for name in EDITABLE if getattr(channel, name) != wanted[name])
    if not changed:
        return channel
    for name in changed:
        setattr(channel, name, wanted[name])
    channel.record(events.HL7_CHANNEL_EDITED, {"changed": changed}, actor=actor)
    channel.save()
    trail.record(
        "hl7.channel.edit", actor=actor, target=f"hl7channel:{channel.pk}",
        detail={"changed": changed},
    )  # fmt: skip
    return channel


def _check_channel(
    *, name: str, facility: str, direction: str, host: str, port: int | None, max_retries: int
) -> None:
    if not name:
        raise InvalidInput("A channel needs a name.", field="name")
    if not facility or "|" in facility or "^" in facility:
        raise InvalidInput(
            "Give the facility code the system sends in MSH-4.", field="sending_facility"
        )
    if direction == Channel.Direction.OUTBOUND and not (host and port):
        raise InvalidInput("An outbound channel needs the host and port to send to.", field="host")
    # An inbound channel's host and port, when given, are where its system listens for the
    # application ACKs it asks for (MSH-16): both or neither.
    if host and not HOST.fullmatch(host):
        raise InvalidInput(
            "Give a host name or an IP address (letters, digits, . - :).", field="host"
        )
    if bool(host) != bool(port):
        raise InvalidInput("Give both the host and the port, or neither.", field="port")
    if port is not None and not 1 <= port <= 65535:
        raise InvalidInput("A port is 1 to 65535.", field="port")
    if not 0 <= max_retries <= MAX_RETRIES:
        raise InvalidInput(f"Retries are 0 to {MAX_RETRIES}.", field="max_retries")


def _lock(lock_class: int, channel_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [lock_class, channel_id])


# The listener asks the two queries below once a batch, and a batch is often one or two
# messages (each sender waits for its ACK): written in SQL, as the ORM's compiling of them
# cost several times the round trip (docs/PERFORMANCE.md, "the store path in SQL").
_CHANNEL_FIELDS = Channel._meta.concrete_fields
_CHANNEL_NAMES = [f.attname for f in _CHANNEL_FIELDS]
_CHANNEL_SQL = (
    f"SELECT {', '.join(connection.ops.quote_name(f.column) for f in _CHANNEL_FIELDS)} "  # noqa: S608  (our table and columns)
    f"FROM {Channel._meta.db_table} WHERE sending_facility = %s AND direction = %s AND active"
)
_MESSAGE_FIELDS = Message._meta.concrete_fields
_MESSAGE_NAMES = [f.attname for f in _MESSAGE_FIELDS]
_KNOWN_SQL = (
    f"SELECT {', '.join(connection.ops.quote_name(f.column) for f in _MESSAGE_FIELDS)} "  # noqa: S608  (our table and columns)
    f"FROM {Message._meta.db_table} WHERE channel_id = %s AND control_id = ANY(%s)"
)


def inbound_channel(sending_facility: str) -> Channel | None:
    """The active inbound channel of `sending_facility` (MSH-4), if there is one (one at
    most: facility and direction are unique)."""
    with connection.cursor() as cursor:
        cursor.execute(_CHANNEL_SQL, [sending_facility, Channel.Direction.INBOUND.value])
        row = cursor.fetchone()
    if row is None:
        return None
    return Channel.from_db(connection.alias, _CHANNEL_NAMES, row)


def message_store(*, channel: Channel, header: Header, raw: str) -> tuple[Message, bool]:
    """Commits one message (or finds the one already stored under its control id): the
    durable step before any ACK. Returns the row and whether it is new."""
    [(message, new)] = messages_store(channel=channel, incoming=[(header, raw)])
    return message, new


def messages_store(
    *, channel: Channel, incoming: list[tuple[Header, str]]
) -> list[tuple[Message, bool]]:
    """Commits a batch of the channel's messages in one transaction (one insert), in the
    order given: for each, the row and whether it is new. A control id already stored, or
    repeated within the batch, is answered by the row stored first (no second row)."""
    with transaction.atomic():
        _lock(STORE_LOCK, channel.pk)
        wanted = sorted({header.control_id for header, _ in incoming})
        with connection.cursor() as cursor:
            cursor.execute(_KNOWN_SQL, [channel.pk, wanted])
            rows = cursor.fetchall()
        known = {
            message.control_id: message
            for message in (Message.from_db(connection.alias, _MESSAGE_NAMES, row) for row in rows)
        }
        version, key = keys.active_tenant_key()
        stored: list[tuple[Message, bool]] = []
        new: list[Message] = []
        for header, raw in incoming:
            message = known.get(header.control_id)
            if message is not None:
                stored.append((message, False))
                continue
            message = Message(
                channel=channel, control_id=header.control_id, message_type=header.message_type
            )
            message.seal_with(version, key, raw)
            known[header.control_id] = message
            new.append(message)
            stored.append((message, True))
        if new:
            Message.objects.bulk_create(new)
            note_due(RETRY_JOB, new[0].received_at + LEFT_BEHIND)
    return stored


# At most this many of a channel's messages are applied in one transaction (group commit):
# the tenant's append lock is held for the whole batch, so this bounds how long another
# write of the tenant (a booking at the front desk) can wait behind one.
APPLY_BATCH = 100


def _write_outcomes(batch: list[Message]) -> None:
    """The batch's outcomes in one UPDATE from a VALUES list (Django's bulk_update writes a
    CASE per field over every row: quadratic, and most of a batch's time in the profile).
    Each row is matched on its partition key too: the store is partitioned by month."""
    table = Message._meta.db_table
    rows = ", ".join(
        ["(%s, %s::timestamptz, %s, %s::bigint, %s, %s, %s::timestamptz, %s::timestamptz, "
         "%s::timestamptz)"] * len(batch)
    )  # fmt: skip
    values: list[Any] = []
    for m in batch:
        values += [m.pk, m.received_at, m.status, m.patient_id, m.error, m.attempts,
                   m.next_attempt_at, m.applied_at, m.updated]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS m SET status = v.status, patient_id = v.patient_id, "  # noqa: S608  (our table, placeholders)
            "error = v.error, attempts = v.attempts, next_attempt_at = v.next_attempt_at, "
            "applied_at = v.applied_at, updated = v.updated "
            f"FROM (VALUES {rows}) AS v(id, received_at, status, patient_id, error, attempts, "
            "next_attempt_at, applied_at, updated) "
            "WHERE m.id = v.id AND m.received_at = v.received_at",
            values,
        )


def apply_pending(channel: Channel) -> dict[int, Message]:
    """Applies the channel's stored messages in the order they came, a batch at a time in
    one transaction (group commit): first the whole batch in one savepoint, and when a
    message fails, again each message inside its own savepoint: one that fails goes to the
    error queue without undoing the others. A channel that holds on error stops
    at the first message in error: the later ones wait (held) until it is reprocessed.
    Returns the messages it went through, by id, as they were committed."""
    done: dict[int, Message] = {}
    while True:
        # The channel's apply lock before the tenant's append lock, as every other path
        # that applies or reprocesses takes them (no deadlock between two of them).
        with transaction.atomic(), keys.remembered():
            _lock(APPLY_LOCK, channel.pk)
            batch = list(
                Message.objects.select_for_update()
                .filter(channel=channel, status=Message.Status.RECEIVED)
                .order_by("id")[:APPLY_BATCH]
            )
            if not batch:
                return done
            blocked = channel.hold_on_error and _blocked(channel, batch[0].pk)
            mapping = mapping_of(channel)
            owed: list[ApplicationAck] = []
            with holding_append_lock():
                applied = None if blocked else _apply_whole(channel, batch, mapping)
                for message, (header, patient) in zip(batch, applied or (), strict=False):
                    message.attempts += 1
                    _applied(message, patient)
                    if header.wants_application_ack("AA"):
                        owed.append(_application_ack(channel, message, header, "AA"))
                # One failed (or the channel is held): a savepoint a message.
                for message in batch if applied is None else []:
                    if blocked:
                        _hold(message)
                        continue
                    read, code = _apply_one(channel, message, mapping)
                    if read is not None and read.wants_application_ack(code):
                        owed.append(_application_ack(channel, message, read, code))
                    blocked = channel.hold_on_error and message.status in Message.QUEUED
            _write_outcomes(batch)
            _owe(owed)
        done.update((message.pk, message) for message in batch)
        if len(batch) < APPLY_BATCH:
            return done


def _blocked(channel: Channel, before: int) -> bool:
    return Message.objects.filter(
        channel=channel, id__lt=before, status__in=[Message.Status.ERROR, Message.Status.DEAD]
    ).exists()


def _hold(message: Message) -> None:
    message.status = Message.Status.HELD
    message.error = "Held: an earlier message of this channel is in error."
    message.updated = timezone.now()


def _apply_whole(
    channel: Channel, batch: list[Message], mapping: dict[str, Any]
) -> list[tuple[Header, Patient | None]] | None:
    """Applies the whole batch inside one savepoint: the usual case, where every message
    applies, costs no savepoint a message, and the commands inside take none of their own
    (the batch's savepoint is their unit of failure); the patient links the batch names are
    read in one query, and its registrations and updates written together (`BatchWrites`).
    When one fails, the savepoint undoes the batch and None says to apply it again a message
    at a time (`_apply_one`, a savepoint each), which puts only the failing ones in the
    queue.
    Returns each message's header and patient, in order."""
    done: list[tuple[Header, Patient | None]] = []
    try:
        with transaction.atomic(), callers_savepoint():
            read = []
            for message in batch:
                parsed, header = parse(message.raw)
                read.append((header, _extracted(parsed, header, mapping)))
            links = BatchLinks(channel, [extracted for _, extracted in read])
            writes = BatchWrites(channel, [extracted for _, extracted in read], links)
            for header, extracted in read:
                patient = writes.add(extracted)
                if patient is None:
                    # Written first: the command may read what came before.
                    writes.write()
                    patient = apply_extracted(channel, extracted, links)
                done.append((header, patient))
            writes.write()
    except (DomainError, MappingError, Unparseable):
        return None
    return done


def _applied(message: Message, patient: Patient | None) -> None:
    message.status = Message.Status.APPLIED
    message.patient = patient
    message.error = ""
    message.next_attempt_at = None
    message.applied_at = message.updated = timezone.now()


def _apply_one(
    channel: Channel, message: Message, mapping: dict[str, Any]
) -> tuple[Header | None, str]:
    """Applies one message inside its own savepoint and sets its outcome on the row (the
    caller writes the batch's rows at once). Returns the message's header (None when it
    cannot be read) and the application ACK code of the outcome: AA applied, AR a type or
    event that is not handled, AE any other failure."""
    message.attempts += 1
    message.updated = timezone.now()
    header = None
    try:
        parsed, header = parse(message.raw)
        with transaction.atomic(), callers_savepoint():
            patient = apply_parsed(channel=channel, parsed=parsed, header=header, mapping=mapping)
    except (DomainError, MappingError, Unparseable) as exc:
        _fail(channel, message, _wording(exc))
        return header, "AR" if isinstance(exc, NotHandled) else "AE"
    _applied(message, patient)
    return header, "AA"


def _application_ack(
    channel: Channel, message: Message, header: Header, code: str
) -> ApplicationAck:
    """The application ACK owed for `message`'s outcome `code`; without a return address on
    the channel it is recorded as failed at once (nowhere to send it)."""
    control_id = f"MMA{message.pk}{code}"
    row = ApplicationAck(
        message=message,
        channel=channel,
        code=code,
        control_id=control_id,
        text=application_ack(header, code, message.error, control_id=control_id),
    )
    if not (channel.host and channel.port):
        row.status = ApplicationAck.Status.FAILED
        row.error = NO_RETURN_ADDRESS
    return row


NO_RETURN_ADDRESS = "The channel has no host and port to send application ACKs to."


def _owe(owed: list[ApplicationAck]) -> None:
    """Writes the batch's application ACKs in its transaction (an outbox: a message whose
    outcome commits has its ACK waiting to be sent) and wakes the sender after the commit.
    One that is owed already (same message and code) is not written twice."""
    if not owed:
        return
    ApplicationAck.objects.bulk_create(owed, ignore_conflicts=True)
    if any(row.status == ApplicationAck.Status.PENDING for row in owed):
        note_due(SEND_JOB, timezone.now())
        wake_sender()


def _wording(exc: Exception) -> str:
    if isinstance(exc, DomainError) and exc.field:
        return f"{exc.field}: {exc.message}"
    return str(exc)


def _fail(channel: Channel, message: Message, error: str) -> None:
    """Into the error queue: retried automatically up to the channel's cap, then dead."""
    message.error = error
    if message.attempts > channel.max_retries:
        message.status = Message.Status.DEAD
        message.next_attempt_at = None
        log.error(
            "hl7 message dead-lettered schema=%s channel=%s message=%s attempts=%s",
            connection.schema_name, channel.pk, message.pk, message.attempts,
        )  # fmt: skip
    else:
        message.status = Message.Status.ERROR
        message.next_attempt_at = timezone.now() + RETRY_BASE * 2 ** (message.attempts - 1)
        note_due(RETRY_JOB, message.next_attempt_at)
        log.warning(
            "hl7 message failed schema=%s channel=%s message=%s attempts=%s",
            connection.schema_name, channel.pk, message.pk, message.attempts,
        )  # fmt: skip


def apply_message(
    *, channel: Channel, raw: str, mapping: dict[str, Any] | None = None
) -> Patient | None:
    """Runs what one message says through the scheduling commands (as the system), with
    `mapping` (the channel's live one when not given)."""
    parsed, header = parse(raw)
    return apply_parsed(channel=channel, parsed=parsed, header=header, mapping=mapping)


def apply_parsed(
    *, channel: Channel, parsed: Any, header: Header, mapping: dict[str, Any] | None = None
) -> Patient | None:
    """`apply_message` for a message already parsed."""
    return apply_extracted(channel, _extracted(parsed, header, mapping or mapping_of(channel)))


def _extracted(parsed: Any, header: Header, mapping: dict[str, Any]) -> Extracted:
    """What the message says to do, through `mapping`; only ADT is handled."""
    if header.message_code != "ADT":
        raise NotHandled(f"Message type {header.message_code[:10]} is not handled.")
    return extract(parsed, header.trigger, mapping)


def mapping_of(channel: Channel) -> dict[str, Any]:
    """The channel's live mapping; the shipped default until a version is made live."""
    live = MappingVersion.objects.filter(channel=channel, status=MappingVersion.Status.LIVE)
    document = live.values_list("document", flat=True).first()
    return document if document is not None else DEFAULT_MAPPING


@command
def mapping_draft(*, actor: User | None, channel: Channel, document: Any) -> MappingVersion:
    """A new version of the channel's mapping, validated, not live yet."""
    require_role(actor, WHOLE_TENANT_ROLES)
    try:
        checked = validate(document)
    except MappingInvalid as exc:
        raise InvalidInput(errors={"document": exc.errors}) from exc
    latest = MappingVersion.objects.filter(channel=channel).order_by("-number").first()
    version = MappingVersion(
        channel=channel, number=(latest.number + 1) if latest else 1, document=checked
    )
    version.record(
        events.HL7_MAPPING_DRAFTED,
        {"channel_id": channel.pk, "number": version.number},
        actor=actor,
    )
    version.save()
    return version


@command
def mapping_activate(*, actor: User | None, version: MappingVersion) -> MappingVersion:
    """Makes `version` the channel's live mapping; the one live before is retired. Messages
    applied from then on (and reprocessed ones) use it. A draft goes live only once it has
    been tried on sample messages; a retired version may go live again (a rollback).
    Audited."""
    require_role(actor, WHOLE_TENANT_ROLES)
    channel = Channel.objects.select_for_update().get(pk=version.channel_id)
    version = MappingVersion.objects.select_for_update().get(pk=version.pk)
    if version.status == MappingVersion.Status.LIVE:
        return version
    if version.status == MappingVersion.Status.DRAFT and version.tested_at is None:
        raise Conflict("Try the draft on sample messages before making it live.")
    previous = None
    for live in MappingVersion.objects.select_for_update().filter(
        channel=channel, status=MappingVersion.Status.LIVE
    ):
        previous = live.number
        live.status = MappingVersion.Status.RETIRED
        live.record(
            events.HL7_MAPPING_ACTIVATED,
            {"channel_id": channel.pk, "number": live.number, "status": live.status},
            actor=actor,
        )
        live.save()
    rollback = version.status == MappingVersion.Status.RETIRED
    version.status = MappingVersion.Status.LIVE
    version.activated_at = timezone.now()
    version.record(
        events.HL7_MAPPING_ACTIVATED,
        {"channel_id": channel.pk, "number": version.number, "status": version.status},
        actor=actor,
    )
    version.save()
    trail.record(
        "hl7.mapping.rollback" if rollback else "hl7.mapping.activate",
        actor=actor,
        target=f"hl7channel:{channel.pk}",
        detail={"number": version.number, "previous": previous},
    )
    return version


@dataclass(frozen=True)
class SampleResult:
    control_id: str
    message_type: str
    action: str | None
    values: dict[str, Any]
    error: str


def mapping_try(*, version: MappingVersion, samples: list[str]) -> list[SampleResult]:
    """What `version` makes of each sample message, without applying anything."""
    results = []
    for raw in samples:
        try:
            parsed, header = parse(raw)
        except Unparseable as exc:
            results.append(SampleResult("", "", None, {}, str(exc)))
            continue
        try:
            if header.message_code != "ADT":
                raise MappingError(f"Message type {header.message_code[:10]} is not handled.")
            extracted = extract(parsed, header.trigger, version.document)
        except MappingError as exc:
            results.append(SampleResult(header.control_id, header.message_type, None, {}, str(exc)))
            continue
        values = {
            k: v.isoformat() if isinstance(v, date) else v for k, v in extracted.values.items()
        }
        results.append(
            SampleResult(header.control_id, header.message_type, extracted.action, values, "")
        )
    return results


@command
def mapping_test(
    *, actor: User | None, version: MappingVersion, samples: list[str]
) -> list[SampleResult]:
    """Tries `version` on sample messages (nothing is applied) and, for a draft, records
    that it was tried: what lets it go live. The samples are not kept (they name patients);
    the event and the audit entry say how many there were and how many mapped."""
    require_role(actor, WHOLE_TENANT_ROLES)
    results = mapping_try(version=version, samples=samples)
    version = MappingVersion.objects.select_for_update().get(pk=version.pk)
    mapped = sum(1 for result in results if not result.error)
    if version.status == MappingVersion.Status.DRAFT and samples:
        version.tested_at = timezone.now()
        version.record(
            events.HL7_MAPPING_TESTED,
            {"channel_id": version.channel_id, "number": version.number,
             "samples": len(samples), "mapped": mapped},
            actor=actor,
        )  # fmt: skip
        version.save()
    trail.record(
        "hl7.mapping.test", actor=actor, target=f"hl7channel:{version.channel_id}",
        detail={"number": version.number, "samples": len(samples), "mapped": mapped},
    )  # fmt: skip
    return results


class BatchLinks:
    """The channel's patient links that a batch of messages names (PID-3 and MRG-1), read
    in one query at the start of the batch instead of one a message, and the links the batch
    makes added as it goes. Valid only under the channel's apply lock (nothing else links on
    the channel meanwhile) and inside the batch's savepoint (if it rolls back, so is this
    forgotten). A merge in the batch makes it ask the database again for the rest of it
    (a merged patient resolves to another one)."""

    def __init__(self, channel: Channel, batch: list[Extracted]) -> None:
        identifiers = {
            value
            for extracted in batch
            for value in (
                extracted.values.get("identifier"),
                extracted.values.get("prior_identifier"),
            )
            if value
        }
        indexes = {identifier: link_indexes(channel.pk, identifier) for identifier in identifiers}
        # One instance a patient, however many of its identifiers the batch names.
        patients: dict[int, Patient] = {}
        found = {
            link.identifier_index: patients.setdefault(link.patient_id, link.patient)
            for link in PatientLink.objects.filter(
                channel=channel,
                identifier_index__in=[index for each in indexes.values() for index in each],
            )
            .select_related("patient")
            # The batch may change them (`BatchWrites`): locked as `patient_update` locks
            # one, in one order.
            .select_for_update(of=("patient",))
            .order_by("patient_id")
        }
        self.patients: dict[str, Patient | None] | None = {
            identifier: next((found[i] for i in each if i in found), None)
            for identifier, each in indexes.items()
        }

    def lookup(self, identifier: str) -> tuple[bool, Patient | None]:
        """Whether the batch's read answers for `identifier`, and the patient linked."""
        if self.patients is None or identifier not in self.patients:
            return False, None
        return True, self.patients[identifier]

    def add(self, identifier: str, patient: Patient) -> None:
        if self.patients is not None:
            self.patients[identifier] = patient

    def forget(self) -> None:
        self.patients = None


class BatchWrites:
    """What a batch's registrations, admissions and updates change, saved together
    (`AppendBatch`): a few statements for a run of them where the commands send four to
    six a message, with the same rows, events (in message order) and audit entries. Each is
    checked as the commands check it (`patient_prepared`, `patient_changes`); a new
    patient's id comes from a block taken from the sequence at the start of the batch (so
    its link and events can name it before it is written); a patient changed is the row
    `BatchLinks` read and locked. A message that is anything else (a discharge, a merge, a
    patient merged into another, an identifier not known) goes through the commands, after
    `write()` has written what came before it. Inside the batch's savepoint."""

    def __init__(self, channel: Channel, batch: list[Extracted], links: BatchLinks) -> None:
        self.channel, self.links = channel, links
        self.saves = AppendBatch()
        new = {
            extracted.values["identifier"]
            for extracted in batch
            if extracted.action in ("register", "admit")
            and links.lookup(extracted.values["identifier"]) == (True, None)
        }
        self.ids = take_ids(Patient, len(new))

    def add(self, extracted: Extracted) -> Patient | None:
        """Puts what `extracted` says in the batch and returns its patient; None if the
        commands must apply it."""
        if extracted.action not in ("register", "admit", "update"):
            return None
        values = extracted.values
        identifier = values["identifier"]
        known, patient = self.links.lookup(identifier)
        if not known or (patient is None and (extracted.action == "update" or not self.ids)):
            return None
        if patient is None:
            patient = patient_prepared(actor=None, **_registered(values))
            patient.pk = self.ids.pop(0)
            self.saves.save(patient)
            self.saves.save(_link(self.channel, identifier, patient))
            self.links.add(identifier, patient)
        elif patient.merged_into_id is not None:
            return None
        elif patient_changes(actor=None, patient=patient, **_corrected(values)):
            self.saves.save(patient)
        if extracted.action == "admit":
            self.saves.save(_stay(self.channel, patient))
        return patient

    def write(self) -> None:
        self.saves.write()


def _linked(channel: Channel, identifier: str, links: BatchLinks | None = None) -> Patient | None:
    known, patient = links.lookup(identifier) if links is not None else (False, None)
    if not known:
        link = (
            PatientLink.objects.filter(
                channel=channel, identifier_index__in=link_indexes(channel.pk, identifier)
            )
            .select_related("patient")
            .first()
        )
        patient = link.patient if link is not None else None
    if patient is None:
        return None
    while patient.merged_into_id is not None:
        patient = Patient.objects.get(pk=patient.merged_into_id)
    return patient


def _known(channel: Channel, identifier: str, links: BatchLinks | None = None) -> Patient:
    patient = _linked(channel, identifier, links)
    if patient is None:
        raise MappingError("The patient identifier (PID-3) is not known on this channel.")
    return patient


def apply_extracted(
    channel: Channel, extracted: Extracted, links: BatchLinks | None = None
) -> Patient:
    """Runs one message's action through the commands; `links`, when given, answers the
    lookups of the channel's identifiers (a batch's, read at once)."""
    values = extracted.values
    identifier = values["identifier"]
    if extracted.action in ("register", "admit"):
        patient = _linked(channel, identifier, links)
        if patient is None:
            patient = patient_register(actor=None, **_registered(values))
            _link(channel, identifier, patient).save()
            if links is not None:
                links.add(identifier, patient)
        else:
            patient = _update(patient, values)
        if extracted.action == "admit":
            _admit(channel, patient)
        return patient
    patient = _known(channel, identifier, links)
    if extracted.action == "update":
        return _update(patient, values)
    if extracted.action == "discharge":
        _discharge(channel, patient)
        return patient
    prior = values.get("prior_identifier")
    if not prior:
        raise MappingError("prior_identifier (MRG-1) is empty.")
    duplicate = _known(channel, prior, links)
    if duplicate.pk != patient.pk:
        patient_merge(actor=None, survivor=patient, duplicate=duplicate)
        if links is not None:
            links.forget()
    return patient


def _registered(values: dict[str, Any]) -> dict[str, Any]:
    """What a message's values give a new patient (a registration or an admission)."""
    return {
        "name": values.get("name", ""),
        "phone": values.get("phone", ""),
        "date_of_birth": values.get("date_of_birth"),
    }


def _corrected(values: dict[str, Any]) -> dict[str, Any]:
    """What a message's values correct of a known patient (what they leave out stays)."""
    return {
        "name": values.get("name"),
        "phone": values.get("phone"),
        "date_of_birth": values.get("date_of_birth"),
    }


def _update(patient: Patient, values: dict[str, Any]) -> Patient:
    return patient_update(actor=None, patient=patient, **_corrected(values))


def _link(channel: Channel, identifier: str, patient: Patient) -> PatientLink:
    """A new link of the channel's `identifier` to `patient`, its event recorded (unsaved)."""
    link = PatientLink(
        channel=channel, identifier_index=link_index(channel.pk, identifier), patient=patient
    )
    return link.record(
        events.HL7_PATIENT_LINKED, {"channel_id": channel.pk, "patient_id": patient.pk}, actor=None
    )


def _stay(channel: Channel, patient: Patient) -> Admission:
    """A new stay of `patient`, its admission recorded (unsaved)."""
    admission = Admission(channel=channel, patient=patient)
    return admission.record(
        events.PATIENT_ADMITTED, {"patient_id": patient.pk, "channel_id": channel.pk}, actor=None
    )


@command
def _admit(channel: Channel, patient: Patient) -> Admission:
    admission = _stay(channel, patient)
    admission.save()
    return admission


@command
def _discharge(channel: Channel, patient: Patient) -> Admission:
    """Ends the patient's open stay on this channel; a discharge with no stay on record
    (an outpatient visit) is recorded as a stay that ended now."""
    admission = (
        Admission.objects.select_for_update()
        .filter(channel=channel, patient=patient, status=Admission.Status.ADMITTED)
        .order_by("-id")
        .first()
    ) or Admission(channel=channel, patient=patient)
    admission.status = Admission.Status.DISCHARGED
    admission.discharged_at = timezone.now()
    admission.record(
        events.PATIENT_DISCHARGED, {"patient_id": patient.pk, "channel_id": channel.pk}, actor=None
    )
    admission.save()
    return admission


def message_reprocess(*, actor: User | None, message: Message, raw: str | None = None) -> Message:
    """A person sends a message from the error queue through again, edited or not; the
    channel's messages held behind it follow in order. Audited (an edit names no values)."""
    require_role(actor, WHOLE_TENANT_ROLES)
    channel = message.channel
    with transaction.atomic():
        _lock(APPLY_LOCK, channel.pk)
        message = Message.objects.select_for_update().get(pk=message.pk)
        if message.status not in Message.QUEUED:
            raise Conflict("Only a message in error, held or dead-lettered is reprocessed.")
        if raw is not None:
            try:
                _, header = parse(raw)
            except Unparseable as exc:
                raise InvalidInput(str(exc), field="raw") from exc
            if header.control_id != message.control_id:
                raise InvalidInput("An edit keeps the message's control id (MSH-10).", field="raw")
            message.seal(raw)
            message.message_type = header.message_type
        message.status = Message.Status.RECEIVED
        message.attempts = 0
        message.next_attempt_at = None
        message.save()
        _release_held(channel.pk)
        trail.record(
            "hl7.reprocess",
            actor=actor,
            target=f"hl7message:{message.pk}",
            detail={"edited": raw is not None, "channel_id": channel.pk},
        )
    apply_pending(channel)
    message.refresh_from_db()
    return message


def retry_due(*, now: datetime | None = None) -> int:
    """Sends through again the messages whose automatic retry is due, and applies what a
    listener stored and never applied; returns how many channels it went through."""
    now = now or timezone.now()
    due = Message.objects.filter(status=Message.Status.ERROR, next_attempt_at__lte=now)
    left = Message.objects.filter(
        status=Message.Status.RECEIVED, received_at__lte=now - LEFT_BEHIND
    )
    channel_ids = set(due.values_list("channel_id", flat=True))
    channel_ids |= set(left.values_list("channel_id", flat=True))
    for message in due:
        with transaction.atomic():
            _lock(APPLY_LOCK, message.channel_id)
            row = Message.objects.select_for_update().get(pk=message.pk)
            if row.status != Message.Status.ERROR:
                continue
            row.status = Message.Status.RECEIVED
            row.save(update_fields=["status", "updated"])
            _release_held(message.channel_id)
    for channel in Channel.objects.filter(pk__in=channel_ids):
        apply_pending(channel)
    return len(channel_ids)


def next_retry() -> datetime | None:
    """When the retry job has work next in this tenant (None: nothing waits)."""
    retry: datetime | None = Message.objects.filter(status=Message.Status.ERROR).aggregate(
        at=Min("next_attempt_at")
    )["at"]
    received: datetime | None = Message.objects.filter(status=Message.Status.RECEIVED).aggregate(
        at=Min("received_at")
    )["at"]
    left = received + LEFT_BEHIND if received else None
    return min((at for at in (retry, left) if at is not None), default=None)


def _release_held(channel_id: int) -> None:
    for held in Message.objects.filter(channel_id=channel_id, status=Message.Status.HELD):
        held.status = Message.Status.RECEIVED
        held.error = ""
        held.save(update_fields=["status", "error", "updated"])


def messages_purge(*, older_than: timedelta) -> int:
    """Deletes this tenant's applied inbound messages and sent outbound ones received before
    `older_than` ago (the store keeps what a person may still need: the error queue and the
    dead letters). Their effects stay in the patients' rows and the event log."""
    before = timezone.now() - older_than
    _, deleted = Message.objects.filter(
        status=Message.Status.APPLIED, received_at__lt=before
    ).delete()  # their application ACKs go with them, not counted
    inbound = deleted.get(Message._meta.label, 0)
    outbound, _ = OutboundMessage.objects.filter(
        status=OutboundMessage.Status.SENT, created__lt=before
    ).delete()
    return inbound + outbound
