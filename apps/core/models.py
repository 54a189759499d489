"""Model plumbing without domain knowledge: a tenant's one settings row, and idempotency
records (the first response to each `Idempotency-Key`, kept for replay)."""

from typing import Self

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models


class SingletonSettings(models.Model):
    """A tenant's one row of some settings (pk 1). Until somebody changes a setting there is
    no row, and an unsaved one with the model's defaults stands in for it."""

    class Meta:
        abstract = True

    @classmethod
    def current(cls) -> Self:
        """The settings in force: the row, or the defaults."""
        return cls._default_manager.filter(pk=1).first() or cls(pk=1)

    @classmethod
    def for_update(cls) -> Self:
        """The row locked for a command to change (or a new one to save), in its transaction."""
        return cls._default_manager.select_for_update().filter(pk=1).first() or cls(pk=1)


class IdempotencyRecord(models.Model):
    """No PHI in clear: the request is kept only as a keyed digest (HMAC under the tenant's
    key, so a phone number cannot be guessed from it) and the response body sealed with the
    tenant's key. `subjects` names whose data the response held (e.g. `patient:12`), so
    erasing a patient purges their records."""

    # Whose key it is: a hash of the caller's credentials, so keys of two callers never meet.
    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(null=True)
    subjects = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    # The tenant key version the digest and the seal were made with.
    key_version = models.PositiveSmallIntegerField(default=1)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key"),
        ]
        indexes = [
            models.Index(fields=["created"], name="idempotency_created"),
            GinIndex(fields=["subjects"], name="idempotency_subjects"),
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.status_code}"


class TenantKey(models.Model):
    """The tenant's own key, wrapped by the master key; one row per version, the highest
    active (see `apps.core.keys`).

    Made at onboarding (never in the template schema, whose rows every clone copies).
    """

    # The key's version: 1 at onboarding, one more at each rotation.
    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    wrapped = models.BinaryField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"tenant key {self.pk}"
