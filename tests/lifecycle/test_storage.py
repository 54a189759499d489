"""Storage bytes: what each tenant occupies in PostgreSQL, the warehouse and the cell's
files, per month, measured only for tenants whose log grew since their last measurement."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.clinic.models import User
from apps.core.tenancy import tenants_with_work
from apps.lifecycle.models import StorageMonth
from apps.lifecycle.storage import storage_measure
from apps.lifecycle.tasks import measure_tenant_storage
from apps.plans.models import Subscription
from apps.plans.summary import billing_period
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.conftest import client_for
from tests.lifecycle.conftest import Clinic


def _sizes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _tables_bytes(schema: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(pg_total_relation_size(format('%%I.%%I', schemaname, tablename)))"
            " FROM pg_tables WHERE schemaname = %s",
            [schema],
        )
        (total,) = cursor.fetchone()
    return int(total)


@pytest.mark.slow
def test_a_tenants_storage_is_its_schema_its_warehouse_and_its_files(clinic: Clinic) -> None:
    month, _ = billing_period(timezone.now())

    before = _tables_bytes(clinic.schema)
    row = storage_measure(actor=None, tenant=clinic.tenant)
    after = _tables_bytes(clinic.schema)  # tables only grow (a page, a free-space map)

    exports = _sizes(Path(settings.MYMEDIC_EXPORT_DIR) / clinic.schema)
    anchors = (Path(settings.MYMEDIC_AUDIT_ANCHOR_DIR) / f"{clinic.schema}.jsonl").stat().st_size
    backups = sum(
        path.stat().st_size for path in Path(settings.MYMEDIC_BACKUP_DIR).glob(f"{clinic.slug}-*")
    )
    assert row.month == month
    assert 1_000_000 < before <= row.schema_bytes <= after  # ~100 tables with their indexes
    assert row.warehouse_bytes > 0
    assert row.files_bytes == exports + anchors + backups
    assert exports > 0 and backups > 0
    assert row.peak_bytes == row.total_bytes
    assert StorageMonth.objects.filter(tenant=clinic.tenant).count() == 1


@pytest.mark.slow
def test_the_owner_sees_this_months_storage_in_the_subscription(clinic: Clinic) -> None:
    row = StorageMonth.objects.get(tenant=clinic.tenant)
    with schema_context(clinic.schema):
        owner = User.objects.get(role="owner")

    body = client_for(owner, clinic.tenant).get("/api/v1/subscription/").json()

    assert body["usage"]["storage_bytes"] == row.total_bytes
    measured_at = datetime.fromisoformat(body["storage"].pop("measured_at"))
    assert measured_at == row.measured_at
    assert body["storage"] == {
        "schema_bytes": row.schema_bytes,
        "warehouse_bytes": row.warehouse_bytes,
        "files_bytes": row.files_bytes,
        "peak_bytes": row.peak_bytes,
    }


def test_a_month_keeps_its_peak_and_the_last_measurement(tenant: Tenant) -> None:
    first = storage_measure(actor=None, tenant=tenant, now=datetime(2027, 1, 10, tzinfo=UTC))
    StorageMonth.objects.filter(pk=first.pk).update(peak_bytes=first.total_bytes * 10)

    again = storage_measure(actor=None, tenant=tenant, now=datetime(2027, 1, 20, tzinfo=UTC))
    next_month = storage_measure(actor=None, tenant=tenant, now=datetime(2027, 2, 1, tzinfo=UTC))

    assert again.pk == first.pk and again.peak_bytes == first.total_bytes * 10
    assert again.measured_at == datetime(2027, 1, 20, tzinfo=UTC)
    assert next_month.pk != first.pk and next_month.month.isoformat() == "2027-02-01"
    assert next_month.peak_bytes == next_month.total_bytes


def test_beat_measures_a_tenant_again_only_once_its_log_has_grown(
    tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    now = timezone.now()
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    assert tenant.schema_name in tenants_with_work("measure-storage", now)

    measured = measure_tenant_storage()

    assert measured == StorageMonth.objects.get(tenant=tenant).total_bytes > 0
    # Until its log grows again the tenant is not visited: idle tenants cost no task.
    assert tenant.schema_name not in tenants_with_work("measure-storage", now)

    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 11))
    assert tenant.schema_name in tenants_with_work("measure-storage", now)


def test_the_operator_sees_the_storage_on_the_subscription(
    tenant: Tenant, admin_client_public: Any
) -> None:
    storage_measure(actor=None, tenant=tenant)
    subscription = Subscription.objects.get(tenant=tenant)
    page = admin_client_public.get(f"/admin/plans/subscription/{subscription.pk}/change/")

    assert page.status_code == 200
    assert "storage " in page.content.decode() and "bytes (schema" in page.content.decode()
