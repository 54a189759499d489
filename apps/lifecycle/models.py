"""Public schema: what the platform keeps of a tenant's life beyond its subscription: the
storage it occupies each month, and the record of its close and erasure.

A closure record outlives its tenant on purpose: it is the platform's proof of what was
erased, when and by whom, and holds no patient data (slug, ids, times, counts and the hash
of the tenant's last audit entry).
"""

from typing import ClassVar

from django.db import models

from apps.tenants.models import Tenant

# The erasure's steps, in the order they run (`apps.lifecycle.erasure`). Each is safe to run
# again; a rerun after a crash starts at the first step not recorded as done.
STEPS = ("files", "warehouse", "keys", "schema", "redis")


class TenantClosure(models.Model):
    """One tenant's close and erasure. Made by `tenant_close` (the subscription is closed in
    the same transaction); `erase_after` is the end of the grace in which the owner may still
    export; `steps` records each erasure step as it completes, with its counts."""

    slug = models.SlugField(max_length=31)
    tenant_id = models.BigIntegerField(help_text="The tenant's id in this cell (its row goes).")
    # Needed until the schema is gone; emptied when the erasure completes.
    schema_name = models.CharField(max_length=63, blank=True)
    closed_at = models.DateTimeField()
    closed_by = models.CharField(max_length=254)
    reason = models.CharField(max_length=200, blank=True)
    erase_after = models.DateTimeField()
    erase_started_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    erased_by = models.CharField(max_length=254, blank=True)
    # {"files": {"at": "...", "outbox_lines": 3, ...}, ...}: done steps and what each erased.
    steps = models.JSONField(default=dict, blank=True)
    # What the tenant held when the erasure began (patients, staff, events, audit entries, ...).
    counts = models.JSONField(default=dict, blank=True)
    # The hash of the tenant's last audit entry (a SHA-256, hex), taken after the erasure
    # itself was audited: the chain's final head, which anyone holding an anchor can compare.
    audit_head_sha256 = models.CharField(max_length=64, blank=True)
    # The platform's invoices to the tenant, kept (tax law) with their tenant emptied.
    statements_kept = models.JSONField(default=list, blank=True)

    STEPS: ClassVar[tuple[str, ...]] = STEPS

    class Meta:
        ordering = ["-closed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["slug"],
                condition=models.Q(erased_at__isnull=True),
                name="tenant_closure_one_open_per_slug",
            )
        ]
        indexes = [
            models.Index(
                fields=["erase_after"],
                condition=models.Q(erased_at__isnull=True),
                name="tenant_closure_erase_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.slug} (closed {self.closed_at:%Y-%m-%d})"

    @property
    def pending_steps(self) -> list[str]:
        return [step for step in self.STEPS if step not in self.steps]


class StorageMonth(models.Model):
    """The bytes a tenant occupies, per calendar month of the billing clock: its schema
    (tables, indexes and TOAST), its warehouse database and its files. Each measurement
    overwrites the month's figures; `peak_bytes` keeps the month's highest total."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="The first day of the month.")
    schema_bytes = models.BigIntegerField(default=0)
    warehouse_bytes = models.BigIntegerField(default=0)
    files_bytes = models.BigIntegerField(default=0)
    peak_bytes = models.BigIntegerField(default=0)
    measured_at = models.DateTimeField()

    class Meta:
        ordering = ["-month", "tenant_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "month"], name="storage_month_once")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.month:%Y-%m}: {self.total_bytes} bytes"

    @property
    def total_bytes(self) -> int:
        return self.schema_bytes + self.warehouse_bytes + self.files_bytes
