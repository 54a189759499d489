"""Reads of the lifecycle's public rows."""

from datetime import date

from apps.lifecycle.models import StorageMonth, TenantClosure


def storage_of(tenant_id: int, month: date) -> StorageMonth | None:
    return StorageMonth.objects.filter(tenant_id=tenant_id, month=month.replace(day=1)).first()


def open_closure(slug: str) -> TenantClosure | None:
    """The tenant's closure that is not erased yet, if any."""
    return TenantClosure.objects.filter(slug=slug, erased_at__isnull=True).first()
