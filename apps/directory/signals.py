"""The directory follows the tenants: a deleted tenant leaves it, whichever way it was removed
(reaped, replaced); a tenant moved to another cell is pointed at that cell."""

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete
from django.dispatch import receiver

from apps.core.wakeups import after_commit
from apps.directory.commands import location_forget, relocate
from apps.tenants.models import Tenant
from apps.tenants.moves import tenant_moved


@receiver(post_delete, sender=Tenant, dispatch_uid="directory-forget-tenant")
def forget_deleted_tenant(sender: type[Tenant], instance: Tenant, **kwargs: Any) -> None:
    slug = instance.slug
    if settings.MYMEDIC_DIRECTORY_SHARED:
        # One connection: the place goes in the transaction that removes the tenant.
        location_forget(actor=None, slug=slug)
    else:
        after_commit(lambda: location_forget(actor=None, slug=slug), what="directory removal")


@receiver(tenant_moved, dispatch_uid="directory-relocate-tenant")
def point_at_new_cell(sender: type[Tenant], slug: str, target_cell: str, **kwargs: Any) -> None:
    """Sent inside the move's write pause, once the tenant's data is whole in the target cell;
    raising abandons the move with the source untouched. A move to a bare database URL (no
    configured cell, as in a rehearsal) has no place in the directory to change."""
    if target_cell in settings.MYMEDIC_CELLS:
        relocate(actor=None, slug=slug, cell=target_cell)
