"""The warehouse: incremental, idempotent export; analytics that match the log; one
database per tenant."""

import os
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django_tenants.utils import schema_context

from apps.billing import commands as billing
from apps.clinic.models import Role, User
from apps.reconciliation.analytics import chain_analytics, monthly_takings
from apps.reconciliation.compute import close_days
from apps.reconciliation.export import export
from apps.reconciliation.models import WarehouseCursor
from apps.reconciliation.warehouse import TenantWarehouse, backend
from apps.scheduling import commands
from apps.scheduling.models import Doctor
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.conftest import client_for
from tests.scheduling.factories import PatientFactory

D = Decimal


@pytest.fixture
def warehouse_url(tmp_path: Path, settings: Any) -> str:
    settings.MYMEDIC_WAREHOUSE_URL = f"chdb://{tmp_path}/warehouse"
    return str(settings.MYMEDIC_WAREHOUSE_URL)


@pytest.fixture
def january(doctor: Doctor) -> None:
    """Four visits: one completed and paid, one no-show, one cancelled with a refund."""
    visits = [
        commands.appointment_book(
            actor=None, doctor=doctor, patient=PatientFactory(), start=ist(4, h)
        )
        for h in (10, 11, 12)
    ] + [
        commands.appointment_book(
            actor=None, doctor=doctor, patient=PatientFactory(), start=ist(12, 10)
        )
    ]
    billing.payment_take(
        actor=None, appointment=visits[0], kind="deposit", amount=D("500"), method="cash"
    )
    commands.appointment_check_in(actor=None, appointment=visits[0])
    commands.appointment_complete(actor=None, appointment=visits[0])
    commands.appointment_mark_no_show(actor=None, appointment=visits[1], now=ist(4, 11, 20))
    billing.payment_take(
        actor=None, appointment=visits[2], kind="deposit", amount=D("200"), method="upi"
    )
    commands.appointment_cancel(actor=None, appointment=visits[2], reason="x")  # refunds 200 by UPI
    with time_machine.travel(ist(12, 9), tick=False):
        billing.payment_take(
            actor=None, appointment=visits[3], kind="deposit", amount=D("300"), method="card"
        )
    close_days(date(2027, 1, 1), date(2027, 1, 31))


def test_export_is_incremental_and_analytics_match_the_log(
    warehouse_url: str, january: None, doctor: Doctor, tenant: Tenant
) -> None:
    warehouse = TenantWarehouse(tenant.schema_name)

    written = export(warehouse)
    again = export(warehouse)
    by_month = chain_analytics(warehouse, date(2027, 1, 1), date(2027, 1, 31), "month")
    by_week = chain_analytics(warehouse, date(2027, 1, 1), date(2027, 1, 31), "week")

    assert written == {"facts": 12, "closes": 2}  # 8 appointment + 4 money events; 2 days
    assert again["facts"] == 0
    assert by_month == [
        {
            "branch": doctor.branch_id,
            "period": "2027-01-01",
            "bookings": 4,
            "no_shows": 1,
            "cancellations": 1,
            "takings": "800.00",
            "variance": "0.00",
            "days_with_variance": 0,
            "no_show_rate": round(1 / 3, 4),
        }
    ]
    assert [(row["period"], row["bookings"], row["takings"]) for row in by_week] == [
        ("2027-01-04", 3, "500.00"),
        ("2027-01-11", 1, "300.00"),
    ]
    assert monthly_takings(warehouse, 2027) == [
        {"branch": doctor.branch_id, "month": "2027-01-01", "takings": "800.00"}
    ]


def test_exporting_the_same_facts_twice_changes_no_figure(
    warehouse_url: str, january: None, tenant: Tenant
) -> None:
    warehouse = TenantWarehouse(tenant.schema_name)
    export(warehouse)
    before = chain_analytics(warehouse, date(2027, 1, 1), date(2027, 1, 31), "month")

    WarehouseCursor.objects.filter(pk=1).update(position=0, closes_exported=None)  # a crash
    export(warehouse)

    assert chain_analytics(warehouse, date(2027, 1, 1), date(2027, 1, 31), "month") == before
    assert monthly_takings(warehouse, 2027)[0]["takings"] == "800.00"


def test_each_tenant_has_its_own_database(
    warehouse_url: str, january: None, tenant: Tenant, other_tenant: Tenant
) -> None:
    export(TenantWarehouse(tenant.schema_name))
    with schema_context(other_tenant.schema_name):
        theirs = TenantWarehouse(other_tenant.schema_name)
        export(theirs)
        assert chain_analytics(theirs, date(2027, 1, 1), date(2027, 1, 31), "month") == []
    with pytest.raises(ValueError, match="Not a schema name"):
        TenantWarehouse("acme; DROP DATABASE t_acme")


def test_the_analytics_api_is_for_managers(
    warehouse_url: str, january: None, owner: User, tenant: Tenant, main_branch: object
) -> None:
    from tests.clinic.factories import UserFactory

    export()
    client = client_for(owner, tenant)
    body = client.get(
        "/api/v1/reconciliation/analytics/?from=2027-01-01&to=2027-01-31&by=week"
    ).json()
    desk = client_for(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]), tenant)

    assert [row["bookings"] for row in body] == [3, 1]
    assert (
        client.get("/api/v1/reconciliation/analytics/?from=2027-02-01&to=2027-01-01").status_code
        == 400
    )
    assert (
        client.get(
            "/api/v1/reconciliation/analytics/?from=2027-01-01&to=2027-01-31&by=day"
        ).status_code
        == 400
    )
    assert (
        desk.get("/api/v1/reconciliation/analytics/?from=2027-01-01&to=2027-01-31").status_code
        == 403
    )


@pytest.mark.skipif(
    not os.environ.get("MYMEDIC_TEST_CLICKHOUSE_URL"),
    reason="needs a ClickHouse server (set MYMEDIC_TEST_CLICKHOUSE_URL)",
)
def test_the_server_backend_runs_the_same_sql(january: None, tenant: Tenant) -> None:
    warehouse = TenantWarehouse(
        tenant.schema_name, backend(os.environ["MYMEDIC_TEST_CLICKHOUSE_URL"])
    )
    export(warehouse)

    assert (
        chain_analytics(warehouse, date(2027, 1, 1), date(2027, 1, 31), "month")[0]["bookings"] == 4
    )


def test_an_export_while_the_warehouse_is_down_moves_nothing_and_the_next_one_resumes(
    warehouse_url: str, january: None, tenant: Tenant, settings: Any
) -> None:
    from tests.servers import free_port

    settings.MYMEDIC_WAREHOUSE_URL = f"clickhouse://127.0.0.1:{free_port()}"  # nobody listens
    with pytest.raises(Exception, match="(?i)connect|refused"):  # noqa: B017,PT011
        export()
    assert WarehouseCursor.objects.filter(pk=1, position__gt=0).exists() is False

    settings.MYMEDIC_WAREHOUSE_URL = warehouse_url
    resumed = export(TenantWarehouse(tenant.schema_name))

    assert resumed == {"facts": 12, "closes": 2}  # everything the failed export did not write


def test_analytics_answer_503_while_the_warehouse_is_down(
    tenant: Tenant, owner: User, settings: Any
) -> None:
    from tests.servers import free_port

    settings.MYMEDIC_WAREHOUSE_URL = f"clickhouse://127.0.0.1:{free_port()}"  # nobody listens

    answer = client_for(owner, tenant).get(
        "/api/v1/reconciliation/analytics/?from=2027-01-01&to=2027-01-31&by=month"
    )

    assert answer.status_code == 503
    assert answer.json() == {
        "detail": "The analytics warehouse cannot be reached now; try again later."
    }
