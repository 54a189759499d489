"""Channels to hospital systems, the HL7 v2 message store and what ADT traffic links.

Invariant of the store: a message is a committed row before the sender gets any ACK, and
a channel's messages are numbered (`id`) in the order they were stored, which is the order
they are applied in. The raw text is sealed under the tenant's key (it names patients).
The store is partitioned by the month a message was received (`apps.core.partitions.
HL7_MESSAGES`); a (channel, control id) is stored once, whatever the month. The outbound
store is partitioned by the month a message was made (`HL7_OUTBOUND`); a (channel, position)
is made once, whatever the month.
"""

from typing import Any, ClassVar

from django.db import models

from apps.core import crypto, keys
from apps.core.db import connection
from apps.eventstore.models import EventSourcedModel
from apps.scheduling.models import Patient


class Channel(EventSourcedModel):
    """A hospital system that sends to us (inbound) or that we send to (outbound)."""

    stream_type = "hl7channel"

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"

    name = models.CharField(max_length=80)
    # MSH-4 of what the channel sends (inbound); MSH-6 of what we send it (outbound).
    sending_facility = models.CharField(max_length=60)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    # Stop applying the channel's later messages while one is in error, until reprocessed.
    hold_on_error = models.BooleanField(default=False)
    # Automatic retries of a message whose apply failed before it is dead-lettered.
    max_retries = models.PositiveSmallIntegerField(default=3)
    host = models.CharField(max_length=253, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    active = models.BooleanField(default=True)
    # The event-log head when an outbound channel was added: it is sent what follows only
    # (a rebuild of the log never sends it older history).
    start_position = models.BigIntegerField(default=0, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sending_facility", "direction"], name="hl7_channel_facility"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.direction})"


class MonthPartitioned(models.Model):
    """A row of a store partitioned by month on `partition_key`, a column that never changes
    (a trigger refuses it): a save names the month in its UPDATE, so PostgreSQL plans it on
    that month's partition only, not by probing every month's index."""

    partition_key: ClassVar[str]

    class Meta:
        abstract = True

    def _do_update(
        self,
        base_qs: Any,
        using: Any,
        pk_val: Any,
        values: Any,
        update_fields: Any,
        forced_update: bool,
    ) -> bool:
        month = getattr(self, self.partition_key)
        if month is not None:
            base_qs = base_qs.filter(**{self.partition_key: month})
        return bool(
            super()._do_update(base_qs, using, pk_val, values, update_fields, forced_update)
        )


class Message(MonthPartitioned):
    """One HL7 v2 message as received. An operational store like the notification outbox:
    its effects (patients registered, merged, discharged) append their own events."""

    partition_key = "received_at"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received, not applied yet"
        APPLIED = "applied", "Applied"
        ERROR = "error", "Error"
        HELD = "held", "Held behind an error"
        DEAD = "dead", "Dead letter"

    # Statuses that the error queue shows and a person may reprocess.
    QUEUED = (Status.ERROR, Status.HELD, Status.DEAD)

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="messages")
    control_id = models.CharField(max_length=199)
    message_type = models.CharField(max_length=20)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RECEIVED)
    sealed = models.BinaryField(editable=False)
    key_version = models.PositiveSmallIntegerField(default=1, editable=False)
    # Our own wording of why applying failed (never a value from the message).
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    patient = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # Unique through `integration_messagecontrol` (migration 0004): the table is
            # partitioned by `received_at`, which a unique index would have to contain.
            models.Index(fields=["channel", "control_id"], name="hl7_message_control"),
            models.Index(fields=["received_at"], name="hl7_message_received"),
            models.Index(fields=["channel", "status", "id"], name="hl7_message_channel_status"),
        ]

    def __str__(self) -> str:
        return f"HL7 message {self.pk} ({self.message_type}, {self.status})"

    def _context(self) -> str:
        return f"hl7:{connection.schema_name}:{self.channel_id}:{self.control_id}"

    def seal(self, raw: str) -> None:
        self.seal_with(*keys.active_tenant_key(), raw)

    def seal_with(self, version: int, key: bytes, raw: str) -> None:
        """Seals under tenant key `version` (looked up once for a batch of messages)."""
        self.key_version = version
        self.sealed = crypto.seal(key, raw.encode(), self._context())

    @property
    def raw(self) -> str:
        key = keys.tenant_key(self.key_version)
        return crypto.unseal(key, bytes(self.sealed), self._context()).decode()


class ApplicationAck(models.Model):
    """An application ACK owed to the sender of an enhanced-mode message (MSH-16 asked for
    it): written in the transaction that applied the message (or failed to), so a commit
    has its ACK waiting and a rollback has none (an outbox, like the SIU one), then sent
    to the inbound channel's host and port with retries. One per message and code: a
    message that fails again is not NAKed twice, one applied after a failure gets its AA.
    The text holds codes, control ids and our own wording, never a value of the message."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent and accepted"
        FAILED = "failed", "Failed (retries used up)"

    # No database constraint: the message store is partitioned by month, and PostgreSQL can
    # reference a partitioned table only through a key holding its partition key. The ORM
    # still cascades a deleted message (`hl7_purge`); archiving a month deletes its ACKs.
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="app_acks", db_constraint=False
    )
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="app_acks")
    code = models.CharField(max_length=2)
    # Our MSH-10 of the ACK (the same on every retry).
    control_id = models.CharField(max_length=40)
    text = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Our wording of the last failure (no return address, connection, timeout, peer's code).
    error = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["channel", "id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "code"], name="hl7_app_ack_message_code")
        ]
        indexes = [models.Index(fields=["status", "channel", "id"], name="hl7_app_ack_pending")]

    def __str__(self) -> str:
        return f"Application ACK {self.code} of message {self.message_id} ({self.status})"


class MappingVersion(EventSourcedModel):
    """One version of a channel's mapping (`apps.integration.mapping`): drafted, tried on
    sample messages, then made live; at most one version of a channel is live."""

    stream_type = "hl7mapping"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        LIVE = "live", "Live"
        RETIRED = "retired", "Retired"

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="mappings")
    number = models.PositiveIntegerField()
    document = models.JSONField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    created = models.DateTimeField(auto_now_add=True)
    # When the version was last tried on sample messages: a draft goes live only after.
    tested_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["channel", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "number"], name="hl7_mapping_number"),
            models.UniqueConstraint(
                fields=["channel"],
                condition=models.Q(status="live"),
                name="hl7_mapping_one_live",
            ),
        ]

    def __str__(self) -> str:
        return f"Mapping {self.number} of channel {self.channel_id} ({self.status})"


class OutboundMessage(MonthPartitioned):
    """An SIU message for an outbound channel, made from one appointment event (keyed by the
    channel and the event's position, so a repeated or rebuilt run makes it once) and sent in
    position order. An operational outbox, like the inbound store, and like it partitioned by
    month (`apps.core.partitions.HL7_OUTBOUND`, by `created`)."""

    partition_key = "created"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent and acknowledged"
        DEAD = "dead", "Dead letter"

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="outbound")
    position = models.BigIntegerField()
    appointment_id = models.BigIntegerField()
    message_type = models.CharField(max_length=20)
    control_id = models.CharField(max_length=40)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    sealed = models.BinaryField(editable=False)
    key_version = models.PositiveSmallIntegerField(default=1, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Our wording of the last failure (connection, timeout, or the peer's ACK code).
    error = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Stamped at each save: the archive drops a month only if no message of it changed (a
    # dead letter sent again) after its export began.
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel", "position"]
        indexes = [
            # Unique through `integration_outboundposition` (migration 0005): the table is
            # partitioned by `created`, which a unique index would have to contain.
            models.Index(fields=["channel", "position"], name="hl7_outbound_position"),
            models.Index(fields=["status", "channel", "position"], name="hl7_outbound_pending"),
        ]

    def __str__(self) -> str:
        return f"Outbound {self.message_type} {self.pk} ({self.status})"

    def _context(self) -> str:
        return f"hl7-out:{connection.schema_name}:{self.channel_id}:{self.position}"

    def seal(self, raw: str) -> None:
        self.key_version, key = keys.active_tenant_key()
        self.sealed = crypto.seal(key, raw.encode(), self._context())

    @property
    def raw(self) -> str:
        key = keys.tenant_key(self.key_version)
        return crypto.unseal(key, bytes(self.sealed), self._context()).decode()


class PatientLink(EventSourcedModel):
    """A channel's patient identifier (PID-3) → our patient. The identifier is kept only as
    a keyed hash, like the phone index."""

    stream_type = "hl7patientlink"

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="+")
    identifier_index = models.CharField(max_length=64)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "identifier_index"], name="hl7_patient_link_identifier"
            )
        ]

    def __str__(self) -> str:
        return f"Link {self.pk} → patient {self.patient_id}"


class Admission(EventSourcedModel):
    """A stay reported by ADT A01 (admit) and ended by A03 (discharge)."""

    stream_type = "admission"

    class Status(models.TextChoices):
        ADMITTED = "admitted", "Admitted"
        DISCHARGED = "discharged", "Discharged"

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ADMITTED)
    admitted_at = models.DateTimeField(auto_now_add=True)
    discharged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Admission {self.pk} ({self.status})"


def identifier_value(channel_id: int, identifier: str) -> str:
    """What the keyed hash covers: the identifier within its channel's namespace."""
    return f"hl7:{channel_id}:{identifier}"


def link_indexes(channel_id: int, identifier: str) -> list[str]:
    return keys.phone_indexes(identifier_value(channel_id, identifier))


def link_index(channel_id: int, identifier: str) -> str:
    return keys.phone_index(identifier_value(channel_id, identifier))
