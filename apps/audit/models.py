"""The audit trail of a tenant: append-only, each entry hashed together with the one before."""

from typing import Any

from django.db import models


class AuditEntry(models.Model):
    # Ids are taken under the tenant's append lock, so id order is commit order.
    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True)
    actor_role = models.CharField(max_length=20, blank=True)
    branch_id = models.BigIntegerField(null=True)
    action = models.CharField(max_length=80)
    # What was acted on, e.g. "patient:12", "event:345"; never a name or a phone number.
    target = models.CharField(max_length=120, blank=True)
    # For entries of appended events: the event's digest, so a changed event breaks the chain.
    detail = models.JSONField(default=dict)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["action", "at"], name="audit_action_at"),
            models.Index(fields=["target"], name="audit_target"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.action} {self.target}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("Audit entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit entries are never deleted.")
