"""The active tenant's key, and the tenant-level helpers built on it."""

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from apps.core import crypto
from apps.core.db import connection
from apps.core.models import TenantKey


def ensure_tenant_key() -> None:
    """Creates this tenant's key if it has none (onboarding; upgrades of older tenants)."""
    if connection.schema_name in ("public", "tenant_template") or TenantKey.objects.exists():
        return
    try:
        with transaction.atomic():
            TenantKey.objects.create(
                wrapped=crypto.wrap_tenant_key(crypto.new_key(), connection.schema_name)
            )
    except IntegrityError:
        pass  # made by a concurrent caller


def tenant_key() -> bytes:
    row = TenantKey.objects.filter(pk=1).values_list("wrapped", flat=True).first()
    if row is None:
        raise ImproperlyConfigured(f"Tenant {connection.schema_name} has no key.")
    return crypto.unwrap_tenant_key(bytes(row), connection.schema_name)


def phone_index(phone: str) -> str:
    return crypto.blind_index(tenant_key(), phone)
