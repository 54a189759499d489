"""A tenant's own retention of its live log, when it differs from its plan's."""

from django.db import models


class RetentionOverride(models.Model):
    """At most one row: months of live event log and audit trail this tenant keeps.

    Set only by `apps.archive.commands.retention_set`, which refuses less than the legal
    minimum (`apps.archive.policy`)."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    months = models.PositiveSmallIntegerField()
    set_by_id = models.BigIntegerField(null=True)
    set_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(singleton=True), name="retention_override_single"
            )
        ]

    def __str__(self) -> str:
        return f"{self.months} months"
