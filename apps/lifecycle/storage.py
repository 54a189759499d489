"""Storage bytes: what a tenant occupies in PostgreSQL, the warehouse and the cell's files.

Measured per tenant by a task that beat sends only to tenants whose event log grew since
their last measurement (`apps.core.tenancy.WATCHES["measure-storage"]`): a tenant that
changed nothing occupies what it occupied, so ten thousand idle tenants cost no task.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.core.db import connection
from apps.lifecycle import files
from apps.lifecycle.models import StorageMonth
from apps.plans.summary import billing_period
from apps.reconciliation.warehouse import TenantWarehouse, WarehouseUnavailable, literal
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

SCHEMA_BYTES = """
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'm')
"""


@dataclass(frozen=True)
class Measured:
    schema_bytes: int
    warehouse_bytes: int | None  # None: the warehouse could not be asked
    files_bytes: int


def schema_bytes(schema: str) -> int:
    """Tables, their indexes and TOAST of the schema (pg_total_relation_size of each table)."""
    with connection.cursor() as cursor:
        cursor.execute(SCHEMA_BYTES, [schema])
        (total,) = cursor.fetchone()
    return int(total)


def warehouse_bytes(schema: str) -> int:
    """Bytes on disk of the active parts of the tenant's warehouse database."""
    warehouse = TenantWarehouse(schema)
    database = literal(warehouse.db)  # a name checked by TenantWarehouse, quoted
    rows = warehouse.rows(
        f"SELECT toUInt64(sum(bytes_on_disk)) FROM system.parts WHERE active AND database = {database}"  # noqa: E501, S608
    )
    return int(rows[0][0] or 0) if rows else 0


def measure(schema: str, slug: str) -> Measured:
    try:
        in_warehouse: int | None = warehouse_bytes(schema)
    except WarehouseUnavailable:
        in_warehouse = None
    return Measured(
        schema_bytes=schema_bytes(schema),
        warehouse_bytes=in_warehouse,
        files_bytes=files.bytes_of(files.tenant_paths(schema, slug)),
    )


def storage_measure(*, actor: None, tenant: Tenant, now: datetime | None = None) -> StorageMonth:
    """Measures the tenant now and files the figures under this month (billing clock). A
    warehouse that cannot be asked keeps the month's last warehouse figure."""
    now = now or timezone.now()
    month, _ = billing_period(now)
    measured = measure(tenant.schema_name, tenant.slug)
    with transaction.atomic():
        row, _ = StorageMonth.objects.select_for_update().get_or_create(
            tenant=tenant, month=month, defaults={"measured_at": now}
        )
        row.schema_bytes = measured.schema_bytes
        if measured.warehouse_bytes is not None:
            row.warehouse_bytes = measured.warehouse_bytes
        row.files_bytes = measured.files_bytes
        row.peak_bytes = max(row.peak_bytes, row.total_bytes)
        row.measured_at = now
        row.save()
    logger.info(
        "storage measured schema=%s total=%s warehouse=%s",
        tenant.schema_name, row.total_bytes, "-" if measured.warehouse_bytes is None else "ok",
    )  # fmt: skip
    return row
