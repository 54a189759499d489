"""The queue of checked-in patients: consultations (called, started, ended), the doctors'
rooms and the waiting-room display links.

Every model but the read model is event-sourced: it changes only through
`apps.queue.commands`, and each change appends one event to the tenant's log in the same
transaction. Events name tokens, doctors, rooms and times, never a patient.
"""

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.clinic.models import Branch, User
from apps.eventstore.models import EventSourcedModel
from apps.scheduling.models import Appointment, Doctor


class Consultation(EventSourcedModel):
    """A checked-in visit once its doctor calls it: called → started → ended."""

    stream_type = "consultation"

    class Stage(models.TextChoices):
        CALLED = "called", "Called"
        STARTED = "started", "In consultation"
        ENDED = "ended", "Ended"

    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, related_name="consultation"
    )
    doctor = models.ForeignKey(Doctor, on_delete=models.PROTECT, related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    stage = models.CharField(max_length=10, choices=Stage.choices, default=Stage.CALLED)
    calls = models.PositiveSmallIntegerField(default=0)
    called_at = models.DateTimeField(null=True)
    started_at = models.DateTimeField(null=True)
    ended_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Consultation {self.pk} ({self.stage})"

    def event_data(self) -> dict[str, Any]:
        """Ids, the token, the stage and its times: what the queue projection folds."""
        appointment = self.appointment
        return {
            "appointment_id": self.appointment_id,
            "doctor_id": self.doctor_id,
            "branch_id": self.branch_id,
            "token": appointment.token,
            "stage": self.stage,
            "calls": self.calls,
        }


class DoctorRoom(EventSourcedModel):
    """Where a doctor sees patients, as the waiting room is told ("Room 4")."""

    stream_type = "doctor-room"

    doctor = models.OneToOneField(Doctor, on_delete=models.PROTECT, related_name="room")
    room = models.CharField(max_length=40)

    class Meta:
        ordering = ["doctor_id"]

    def __str__(self) -> str:
        return f"{self.doctor} — {self.room}"

    def event_branch_id(self) -> int | None:
        return self.doctor.branch_id


class DisplayLink(EventSourcedModel):
    """A waiting-room screen's way in: the link carries a random key, stored here only as
    its SHA-256 digest. Revoking it stops every screen that opened it."""

    stream_type = "display-link"

    class Language(models.TextChoices):
        ENGLISH = "en", _("English")
        HINDI = "hi", _("हिन्दी (Hindi)")

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="display_links")
    name = models.CharField(max_length=80)
    language = models.CharField(max_length=5, choices=Language.choices, default="en")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def live(self) -> bool:
        return self.revoked_at is None


# Read model (built by apps.queue.projections; never written by commands).


class QueueEntry(models.Model):
    """One row per checked-in visit as the log tells it: its token, where it stands in the
    doctor's queue and when each step happened (waiting = check-in → start, consultation =
    start → end)."""

    class Stage(models.TextChoices):
        WAITING = "waiting", "Waiting"
        CALLED = "called", "Called"
        STARTED = "started", "In consultation"
        DONE = "done", "Done"

    appointment_id = models.BigIntegerField(primary_key=True)
    branch_id = models.BigIntegerField()
    doctor_id = models.BigIntegerField()
    patient_id = models.BigIntegerField()
    date = models.DateField()
    start = models.DateTimeField()
    token = models.PositiveIntegerField()
    stage = models.CharField(max_length=10, choices=Stage.choices)
    calls = models.PositiveSmallIntegerField(default=0)
    checked_in_at = models.DateTimeField()
    called_at = models.DateTimeField(null=True)
    started_at = models.DateTimeField(null=True)
    ended_at = models.DateTimeField(null=True)
    position = models.BigIntegerField()

    class Meta:
        ordering = ["doctor_id", "date", "token"]
        indexes = [
            models.Index(fields=["branch_id", "date"], name="queueentry_branch_day"),
            models.Index(fields=["doctor_id", "date", "token"], name="queueentry_doctor_day"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["doctor_id", "date", "token"], name="queueentry_one_token_a_day"
            )
        ]

    def __str__(self) -> str:
        return f"Token {self.token} ({self.stage})"
