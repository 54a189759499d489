"""Patient notifications: the per-tenant settings and templates, the plan the projection
derives from the event log, and the outbox of deliveries.

Two tables, on purpose:

- `Notification` is a read model of the `notifications` projection: one row per logical
  message (booking confirmation, reschedule and cancel notices, each reminder, a waitlist
  offer), keyed by what it is about and the event version that planned it. It is rebuilt from
  the log like every read model (replay truncates and refills it to the same rows).
- `Delivery` is the outbox state that is *not* in the log: whether a message was sent, how
  often it was tried, the provider's id. A rebuild never touches it, so replaying the plan
  can never send a message twice; the dispatcher joins the two on `key`.

No PHI is stored in either: rows carry ids and times; the message text (patient name, phone
or email, doctor, time) is rendered at send time and never written to the database or logs.
"""

from django.db import models

from apps.core.models import SingletonSettings
from apps.eventstore.models import EventSourcedModel

CHANNEL_CHOICES = [("sms", "SMS"), ("whatsapp", "WhatsApp"), ("email", "Email")]
LANGUAGE_CHOICES = [("en", "English"), ("hi", "Hindi")]
DEFAULT_REMINDER_OFFSETS = [24 * 60, 2 * 60]


class Kind(models.TextChoices):
    CONFIRMATION = "confirmation", "Booking confirmation"
    RESCHEDULED = "rescheduled", "Reschedule notice"
    CANCELLED = "cancelled", "Cancellation notice"
    REMINDER = "reminder", "Reminder"
    SLOT_OFFERED = "slot_offered", "Waitlist slot offered"


def default_offsets() -> list[int]:
    return list(DEFAULT_REMINDER_OFFSETS)


def default_channels() -> list[str]:
    return [channel for channel, _ in CHANNEL_CHOICES]


class NotificationSettings(SingletonSettings, EventSourcedModel):
    """The tenant's one row of notification settings (edited in the admin, through
    `notification_settings_update`). Its events let the projection plan reminders with the
    offsets in force at each booking, on a replay too."""

    stream_type = "notification-settings"

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    # Minutes before the appointment; whole days (multiples of 1440) are counted on the
    # branch's wall clock, shorter offsets in elapsed time (see `apps.notifications.timing`).
    reminder_offsets = models.JSONField(
        default=default_offsets,
        help_text="Minutes before the appointment, e.g. [1440, 120] for 24 h and 2 h.",
    )
    enabled_channels = models.JSONField(
        default=default_channels, help_text='Any of "sms", "whatsapp", "email".'
    )
    default_channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES, default="sms")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return "Notification settings"


class MessageTemplate(models.Model):
    """A tenant's wording of one kind of message in one language (Django template syntax);
    without one, the default in `apps.notifications.wording` is used."""

    kind = models.CharField(max_length=20, choices=Kind.choices)
    language = models.CharField(max_length=5, choices=LANGUAGE_CHOICES)
    subject = models.CharField(max_length=200, blank=True, help_text="Email only.")
    body = models.TextField(
        help_text="Variables: patient_name, doctor_name, branch_name, clinic_name, date, time, "
        "hold_until."
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "language"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "language"], name="template_kind_language")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.language})"


class ReminderPolicy(SingletonSettings):
    """Read model: the reminder offsets in force, as the settings events tell them."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    reminder_offsets = models.JSONField(default=default_offsets)
    position = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"Reminder offsets {self.reminder_offsets}"


class Notification(models.Model):
    """One planned message (read model of the `notifications` projection)."""

    key = models.CharField(max_length=120, primary_key=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    appointment_id = models.BigIntegerField(null=True)
    hold_id = models.BigIntegerField(null=True)
    patient_id = models.BigIntegerField()
    branch_id = models.BigIntegerField()
    # The appointment (or held slot) start this message speaks of, re-checked at send time.
    starts_at = models.DateTimeField()
    due_at = models.DateTimeField()
    # The planning event's stream version: a reschedule voids reminders planned before it.
    version = models.PositiveIntegerField()
    voided = models.BooleanField(default=False)
    position = models.BigIntegerField()

    class Meta:
        ordering = ["due_at", "key"]
        indexes = [
            models.Index(fields=["voided", "due_at"], name="notification_due"),
            models.Index(fields=["appointment_id"], name="notification_appointment"),
        ]

    def __str__(self) -> str:
        return self.key


class Delivery(models.Model):
    """The outbox row of one message: claimed, sent at most once, retried, or dead-lettered."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DEAD = "dead", "Dead letter"
        SKIPPED = "skipped", "Skipped (no longer relevant)"

    key = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    branch_id = models.BigIntegerField()
    patient_id = models.BigIntegerField()
    appointment_id = models.BigIntegerField(null=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    # Why it failed or was skipped: our own words and the provider's status, never the text.
    last_error = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["status", "claimed_at"], name="delivery_sending"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"


class DeadLetter(Delivery):
    """The dead-letter list in the admin: deliveries that need a person."""

    class Meta:
        proxy = True
        verbose_name = "dead letter"


class DailySendCount(models.Model):
    """How many phone messages (SMS, WhatsApp) the tenant sent on a day, for its quota.
    An operational counter, like the outbox: not a domain fact, so not in the log."""

    day = models.DateField()
    channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "channel"], name="send_count_day_channel")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.channel}: {self.count}"


class SentMessage(EventSourcedModel):
    """A message the provider took: the fact the platform meters (messages a month, by
    channel), one row and one `MessageSent` event each, written in the transaction that marks
    its delivery sent. Ids and codes only."""

    stream_type = "message"

    delivery_id = models.BigIntegerField(unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES)
    branch_id = models.BigIntegerField()
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"message {self.delivery_id} ({self.channel})"
