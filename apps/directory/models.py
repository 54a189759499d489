"""The global directory: which region and cell hold each tenant, and its host names.

One small table in its own database (alias `directory`, `apps.directory.router`), read by
every cell and by the edge, which routes each host to its cell from it. It holds no tenant
data: a slug, a region, a cell and host names.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models


class TenantLocation(models.Model):
    """Where a tenant lives. Written when a tenant is onboarded, removed when it is deleted
    (by the cell that holds it), flipped by `apps.directory.commands.relocate`. Every change
    notifies the edge (a trigger sends NOTIFY on the `mymedic_directory` channel), which
    rewrites its host map and reloads."""

    slug = models.SlugField(max_length=31, unique=True)
    region = models.CharField(max_length=16)
    cell = models.CharField(max_length=63)
    # The primary host first; the edge maps every one of them to the cell.
    hosts = ArrayField(models.CharField(max_length=253), default=list)
    created = models.DateTimeField(auto_now_add=True)
    changed = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        indexes = [models.Index(fields=["cell"], name="tenant_location_cell")]

    def __str__(self) -> str:
        return f"{self.slug} → {self.region}/{self.cell}"

    @property
    def domain(self) -> str:
        return self.hosts[0] if self.hosts else ""
