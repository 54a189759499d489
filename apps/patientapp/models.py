"""The patient app's tenant settings, one-time sign-in codes and patient tokens.

Codes and tokens are credentials, not domain facts: they are plain rows (no events), and only
their keyed hashes are stored, never the code or the key itself.
"""

from django.db import models

from apps.core.models import SingletonSettings
from apps.eventstore.models import EventSourcedModel
from apps.scheduling.models import Patient


class PatientAppSettings(SingletonSettings, EventSourcedModel):
    """One row per tenant (pk 1); absent means the defaults."""

    stream_type = "patient-app-settings"

    change_window_hours = models.PositiveSmallIntegerField(
        default=4,
        help_text="Patients may cancel or reschedule in the app until this many hours before "
        "the visit starts; later, they call the clinic.",
    )

    class Meta:
        verbose_name = "patient app settings"
        verbose_name_plural = "patient app settings"

    def __str__(self) -> str:
        return f"Patient app (changes up to {self.change_window_hours} h before)"


class OneTimeCode(models.Model):
    """A six-digit sign-in code sent by SMS, kept as a keyed hash with its own salt."""

    # Blind index of the phone it was sent to (a phone may be shared by a family).
    phone_index = models.CharField(max_length=64)
    salt = models.CharField(max_length=32)
    code_hash = models.CharField(max_length=64)
    created = models.DateTimeField()
    expires = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    # Set when the code was used, replaced by a newer one, or ran out of attempts.
    spent = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["phone_index", "-created"], name="otp_phone_created")]

    def __str__(self) -> str:
        return f"Code {self.pk}"


class PatientToken(models.Model):
    """An API token of a patient; distinct from staff tokens, stored as SHA-256 of its key."""

    key_hash = models.CharField(max_length=64, unique=True)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="app_tokens")
    created = models.DateTimeField()
    expires = models.DateTimeField()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"Patient token {self.pk}"
