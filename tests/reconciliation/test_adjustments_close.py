"""Discounts, concessions and credit notes in the daily close, the week, the month and the
warehouse, against a day computed by hand."""

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from apps.billing import commands as billing
from apps.billing.models import Invoice
from apps.clinic.models import User
from apps.reconciliation import reports
from apps.reconciliation.analytics import chain_analytics
from apps.reconciliation.compute import close_days
from apps.reconciliation.export import export
from apps.reconciliation.warehouse import TenantWarehouse
from apps.scheduling import commands
from apps.scheduling.models import Doctor
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import PatientFactory

D = Decimal


@pytest.fixture
def adjusted_monday(doctor: Doctor) -> Any:
    """Monday 4 January 2027, fee 500, no tax:
    a1 paid 500 cash, senior-citizen concession 100 paid back in cash → bill 400;
    a2 deposit 200 UPI, staff discount 50 → bill 450;
    a3 paid 500 by card, consultation withdrawn (credit note) → bill 0, 500 paid back by card.
    Expected 850.00; collected cash 500, UPI 200, card 500; refunded cash 100, card 500."""
    a1, a2, a3 = (
        commands.appointment_book(
            actor=None, doctor=doctor, patient=PatientFactory(), start=ist(4, hour)
        )
        for hour in (10, 11, 12)
    )
    one = billing.payment_take(
        actor=None, appointment=a1, kind="balance", amount=D("500"), method="cash"
    )
    billing.payment_refund_concession(
        actor=None, payment=one, category="senior_citizen", amount=D("100"), reason="60+"
    )
    billing.payment_take(actor=None, appointment=a2, kind="deposit", amount=D("200"), method="upi")
    billing.invoice_discount(
        actor=None, appointment=a2, category="staff", amount=D("50"), reason="Staff"
    )
    three = billing.payment_take(
        actor=None, appointment=a3, kind="balance", amount=D("500"), method="card"
    )
    billing.invoice_line_withdraw(
        actor=None, invoice=Invoice.objects.get(appointment=a3), line=0, reason="Not seen"
    )
    billing.payment_refund_overpayment(actor=None, payment=three, amount=D("500"), reason="x")
    return doctor.branch


def test_the_daily_close_counts_bills_after_discounts_and_credit_notes(
    owner: User, tenant: Tenant, adjusted_monday: Any
) -> None:
    desk: HostClient = client_for(owner, tenant)

    body = desk.get(
        f"/api/v1/reconciliation/daily/?branch={adjusted_monday.pk}&date=2027-01-04"
    ).json()

    assert body["expected"] == "850.00"
    assert body["collected"] == {"card": "500.00", "cash": "500.00", "upi": "200.00"}
    assert body["refunded"] == {"card": "500.00", "cash": "100.00"}


def test_weeks_months_and_the_warehouse_agree_with_the_day(
    adjusted_monday: Any, tenant: Tenant, tmp_path: Path, settings: Any
) -> None:
    settings.MYMEDIC_WAREHOUSE_URL = f"chdb://{tmp_path}/warehouse"
    close_days(date(2027, 1, 1), date(2027, 1, 31))
    warehouse = TenantWarehouse(tenant.schema_name)

    export(warehouse)
    week = reports.weekly(adjusted_monday, "2027-W01")["totals"]
    month = reports.monthly("2027-01", [adjusted_monday])["chain"]
    analytics = chain_analytics(warehouse, date(2027, 1, 1), date(2027, 1, 31), "month")

    assert week["expected"] == month["expected"] == "850.00"
    assert week["refunded"] == month["refunded"] == {"card": "500.00", "cash": "100.00"}
    assert analytics[0]["takings"] == "600.00"  # 1200 received − 600 paid back
