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


class ArchiveProgress(models.Model):
    """The checkpoint of a partition being archived in steps (`apps.archive.commands`).

    The archive file is written one chunk of rows (in id order) at a time, each a gzip
    member re-read and checked before this row moves past it: `offset` is where the verified
    part of the file ends, `last_id` the last row in it, `last_hash` (audit trail) the chain's
    hash there. A run that was killed starts again from here; the row goes in the same
    transaction that records the archived partition and drops it."""

    table = models.CharField(max_length=63)
    partition = models.CharField(max_length=63, unique=True)
    rows = models.BigIntegerField(default=0)
    first_id = models.BigIntegerField(null=True)
    last_id = models.BigIntegerField(null=True)
    offset = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)
    # Every row is in the file (the last chunk came back short).
    complete = models.BooleanField(default=False)
    chunks = models.PositiveIntegerField(default=0)
    started = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.partition}: {self.rows} rows archived so far"
