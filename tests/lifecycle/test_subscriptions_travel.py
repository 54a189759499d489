"""A tenant's public rows of the platform (subscription, its history, statements, storage
figures) go where the tenant goes: to another cell with `tenant_move`, and back with
`tenant_restore` from the tenant's backup."""

import io
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from apps.core import keystore
from apps.lifecycle.models import StorageMonth
from apps.plans.models import Statement, Subscription, SubscriptionChange
from apps.tenants import backups
from apps.tenants.models import Tenant
from apps.tenants.moves import tenant_move
from tests.lifecycle.conftest import Clinic, remove
from tests.tenants.test_move import cell, url_of

pytestmark = pytest.mark.slow
__all__ = ["cell"]


def _platform_rows(query: Any, tenant_id: int) -> dict[str, Any]:
    """The tenant's subscription, history, statements and storage, without ids."""
    return {
        "subscription": query(
            "SELECT p.slug, s.status, s.started_at, s.trial_ends_at, s.gstin"
            " FROM plans_subscription s JOIN plans_plan p ON p.id = s.plan_id"
            " WHERE s.tenant_id = %s",
            [tenant_id],
        ),
        "history": query(
            "SELECT from_status, to_status, by, reason, at FROM plans_subscriptionchange"
            " WHERE tenant_id = %s ORDER BY at, to_status",
            [tenant_id],
        ),
        "statements": query(
            "SELECT number, month, total FROM plans_statement WHERE tenant_id = %s",
            [tenant_id],
        ),
        "storage": query(
            "SELECT month, schema_bytes, warehouse_bytes, files_bytes, peak_bytes"
            " FROM lifecycle_storagemonth WHERE tenant_id = %s",
            [tenant_id],
        ),
    }


def _here(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def test_the_subscription_and_its_records_move_with_the_tenant_to_another_cell(
    clinic: Clinic, cell: str
) -> None:
    before = _platform_rows(_here, clinic.tenant.pk)
    assert all(before.values())  # each kind of row is there to travel

    tenant_move(actor=None, slug=clinic.slug, to=url_of(cell))

    params = {**backups.app_params(), "dbname": cell}
    with psycopg.connect(**params) as target:  # type: ignore[arg-type]
        (target_id,) = target.execute(
            "SELECT id FROM tenants_tenant WHERE slug = %s", [clinic.slug]
        ).fetchone() or (None,)

        def there(sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in target.execute(sql, args).fetchall()]

        assert target_id is not None
        assert _platform_rows(there, target_id) == before
    assert not Tenant.objects.filter(slug=clinic.slug).exists()  # left the source
    keystore.destroy(clinic.schema)


def test_the_subscription_and_its_records_come_back_with_a_restore(
    clinic: Clinic, tmp_path: Path
) -> None:
    backup = tmp_path / "clinic.tar"
    call_command("tenant_backup", clinic.slug, out=backup, stdout=io.StringIO())
    before = _platform_rows(_here, clinic.tenant.pk)
    assert all(before.values())

    # Over itself: the tenant is replaced by its backup and keeps its platform records.
    call_command("tenant_restore", backup, replace=True, stdout=io.StringIO())
    replaced = Tenant.objects.get(slug=clinic.slug)
    assert replaced.pk != clinic.tenant.pk
    assert _platform_rows(_here, replaced.pk) == before

    # Removed, then restored under a new slug: the records come back with it.
    remove(clinic.slug)
    assert not Subscription.objects.filter(tenant_id=replaced.pk).exists()
    revived = f"{clinic.slug}-new"
    try:
        call_command("tenant_restore", backup, as_slug=revived, stdout=io.StringIO())
        tenant = Tenant.objects.get(slug=revived)
        assert _platform_rows(_here, tenant.pk) == before
        assert SubscriptionChange.objects.filter(tenant=tenant).count() == len(before["history"])
        assert Statement.objects.get(number=clinic.statement).tenant_id == tenant.pk
        assert StorageMonth.objects.filter(tenant=tenant).count() == 1
    finally:
        remove(revived)
        keystore.destroy(revived.replace("-", "_"))
