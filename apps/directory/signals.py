"""A deleted tenant leaves the directory, whichever way it was removed (reaped, replaced)."""

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete
from django.dispatch import receiver

from apps.core.wakeups import after_commit
from apps.directory.commands import location_forget
from apps.tenants.models import Tenant


@receiver(post_delete, sender=Tenant, dispatch_uid="directory-forget-tenant")
def forget_deleted_tenant(sender: type[Tenant], instance: Tenant, **kwargs: Any) -> None:
    slug = instance.slug
    if settings.MYMEDIC_DIRECTORY_SHARED:
        # One connection: the place goes in the transaction that removes the tenant.
        location_forget(actor=None, slug=slug)
    else:
        after_commit(lambda: location_forget(actor=None, slug=slug), what="directory removal")
