"""The active tenant's keys, and the tenant-level helpers built on them.

A tenant's key has versions (`TenantKey.id`): the highest is active and seals everything
new; older ones stay readable until `rotate_keys --retire` finds nothing that still uses
them. A patient's data key records which version wraps it; the phone blind index is keyed
with that version too, so a search looks under every live version (one or two).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from apps.core import crypto
from apps.core.db import connection
from apps.core.models import TenantKey
from apps.core.tenancy import is_spare_schema


def ensure_tenant_key() -> None:
    """Creates this tenant's key if it has none (onboarding; upgrades of older tenants).
    The template and spare schemas get none: a key names its schema, so it is made once a
    tenant has its schema (at the claim of a spare)."""
    schema = connection.schema_name
    if schema in ("public", settings.TENANT_BASE_SCHEMA) or is_spare_schema(schema):
        return
    if TenantKey.objects.exists():
        return
    try:
        with transaction.atomic():
            TenantKey.objects.create(
                id=1, wrapped=crypto.wrap_tenant_key(crypto.new_key(), connection.schema_name)
            )
    except IntegrityError:
        pass  # made by a concurrent caller


def active_tenant_key() -> tuple[int, bytes]:
    """(version, key) of the key that seals everything new."""
    if (kept := _kept()) is not None:
        if not kept:
            raise ImproperlyConfigured(f"Tenant {connection.schema_name} has no key.")
        return kept[0]
    # In SQL: asked once a stored HL7 batch, where the ORM's compiling cost more than the
    # query itself.
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVE_SQL)
        row = cursor.fetchone()
    if row is None:
        raise ImproperlyConfigured(f"Tenant {connection.schema_name} has no key.")
    return row[0], crypto.unwrap_tenant_key(bytes(row[1]), connection.schema_name)


_ACTIVE_SQL = f"SELECT id, wrapped FROM {TenantKey._meta.db_table} ORDER BY id DESC LIMIT 1"  # noqa: S608  (our table)


# Inside `remembered()`: a schema's key versions, newest first, read once (schema → keys).
_remembered: ContextVar[dict[str, list[tuple[int, bytes]]] | None] = ContextVar(
    "remembered_tenant_keys", default=None
)


@contextmanager
def remembered() -> Iterator[None]:
    """Within the block, `tenant_key`, `active_tenant_key`, `phone_indexes` and
    `name_index_keys` ask PostgreSQL once (one query for every version) instead of once per
    call: for work that opens or seals many patients in a row (a search of sealed fields, an
    export, a batch of HL7 messages in one transaction). Outside it every call reads the keys
    afresh, as rotation expects."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def _kept() -> list[tuple[int, bytes]] | None:
    """Inside `remembered()`, this schema's (version, key) pairs, newest first; else None."""
    kept, schema = _remembered.get(), connection.schema_name
    if kept is None:
        return None
    if schema not in kept:
        rows = TenantKey.objects.order_by("-id").values_list("id", "wrapped")
        kept[schema] = [(pk, crypto.unwrap_tenant_key(bytes(w), schema)) for pk, w in rows]
    return kept[schema]


def tenant_key(version: int | None = None) -> bytes:
    """The key of `version`, or the active one."""
    if version is None:
        return active_tenant_key()[1]
    # A version made after the block began (a rotation meanwhile) is read as outside it.
    for pk, key in _kept() or ():
        if pk == version:
            return key
    row = TenantKey.objects.filter(pk=version).values_list("wrapped", flat=True).first()
    if row is None:
        raise ImproperlyConfigured(f"Tenant {connection.schema_name} has no key {version}.")
    return crypto.unwrap_tenant_key(bytes(row), connection.schema_name)


def phone_index(phone: str, version: int | None = None) -> str:
    """The blind index of `phone` under `version` (the active key by default)."""
    return crypto.blind_index(tenant_key(version), phone)


def phone_indexes(phone: str) -> list[str]:
    """The blind index of `phone` under every live key version, for searches."""
    if (kept := _kept()) is not None:
        return [crypto.blind_index(key, phone) for _, key in kept]
    rows = TenantKey.objects.order_by("-id").values_list("wrapped", flat=True)
    return [
        crypto.blind_index(crypto.unwrap_tenant_key(bytes(row), connection.schema_name), phone)
        for row in rows
    ]


def name_index_keys() -> list[tuple[int, bytes]]:
    """(version, name-index key) of every live tenant key version, newest first: a name
    search looks under each (a rotation re-keys patients' name tokens in batches)."""
    if (kept := _kept()) is not None:
        return [(version, crypto.name_index_key(key)) for version, key in kept]
    rows = TenantKey.objects.order_by("-id").values_list("id", "wrapped")
    return [
        (
            version,
            crypto.name_index_key(crypto.unwrap_tenant_key(bytes(w), connection.schema_name)),
        )
        for version, w in rows
    ]


def add_tenant_key_version() -> int:
    """Makes a new key the active one (rotation); older versions stay readable."""
    latest = TenantKey.objects.select_for_update().order_by("-id").first()
    version = (latest.pk if latest else 0) + 1
    TenantKey.objects.create(
        id=version, wrapped=crypto.wrap_tenant_key(crypto.new_key(), connection.schema_name)
    )
    return version


def rewrap_under_current_master() -> int:
    """Re-wraps this tenant's keys with the current master key (master key rotation);
    returns how many needed it. Safe to run again."""
    changed = 0
    with transaction.atomic():
        for row in TenantKey.objects.select_for_update().order_by("id"):
            wrapped = bytes(row.wrapped)
            if crypto.wrapped_by_current_master(wrapped, connection.schema_name):
                continue
            key = crypto.unwrap_tenant_key(wrapped, connection.schema_name)
            row.wrapped = crypto.wrap_tenant_key(key, connection.schema_name)
            row.save(update_fields=["wrapped"])
            changed += 1
    return changed


def rebind_from_schema(old_schema: str) -> int:
    """Re-wraps this tenant's keys for the schema it now lives in, after a restore moved it
    from `old_schema` (a wrapped key names its schema, so a copy cannot be opened as another
    tenant's). Needs the master key that wrapped them. Returns how many were re-wrapped."""
    changed = 0
    with transaction.atomic():
        for row in TenantKey.objects.select_for_update().order_by("id"):
            key = crypto.unwrap_tenant_key(bytes(row.wrapped), old_schema)
            row.wrapped = crypto.wrap_tenant_key(key, connection.schema_name)
            row.save(update_fields=["wrapped"])
            changed += 1
    return changed
