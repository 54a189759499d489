"""The daily close shows what the gateway settled of the day's card and UPI money, and what
is still in transit (taken at the desk, not yet settled)."""

from decimal import Decimal

from apps.billing import commands as billing
from apps.billing.models import Payment
from apps.reconciliation.admin import money_by_method
from apps.reconciliation.compute import close_days
from apps.scheduling.models import Doctor
from apps.settlements import commands
from tests.clock import ist
from tests.conftest import HostClient
from tests.settlements.conftest import book, payment_row, report

DAILY = "/api/v1/reconciliation/daily/?branch={}&date=2027-01-04"


def test_the_close_shows_settled_and_in_transit_money_by_method(
    manager_api: HostClient, paid_by_gateway: dict[str, Payment], clinic_doctor: Doctor
) -> None:
    cash_visit = book(clinic_doctor, 12)
    billing.payment_take(
        actor=None, appointment=cash_visit, kind="deposit", amount=Decimal("300.00"),
        method="cash",
    )  # fmt: skip
    url = DAILY.format(clinic_doctor.branch_id)
    before = manager_api.get(url).json()

    # The gateway settles the UPI payment; the card payment is still on its way.
    upi_only = payment_row("pay_NB7fUPI000001", "500.00", "11.80", "1.80", "488.20")

    commands.gateway_file_import(actor=None, raw=report(upi_only))
    after = manager_api.get(url).json()

    assert before["collected"] == {"card": "1200.00", "cash": "300.00", "upi": "500.00"}
    assert (before["settled"], before["in_transit"]) == ({}, {"card": "1200.00", "upi": "500.00"})
    assert after["settled"] == {"upi": "500.00"}
    assert after["in_transit"] == {"card": "1200.00", "upi": "0.00"}
    assert after["collected"] == before["collected"]


def test_the_managers_close_screen_shows_settled_and_in_transit_beside_each_method(
    paid_by_gateway: dict[str, Payment], clinic_doctor: Doctor
) -> None:
    cash_visit = book(clinic_doctor, 12)
    billing.payment_take(
        actor=None, appointment=cash_visit, kind="deposit", amount=Decimal("300.00"),
        method="cash",
    )  # fmt: skip
    upi_only = payment_row("pay_NB7fUPI000001", "500.00", "11.80", "1.80", "488.20")
    commands.gateway_file_import(actor=None, raw=report(upi_only))
    day = ist(4, 0).date()
    (close,) = close_days(day, day, {clinic_doctor.branch_id})

    rows = {row["label"]: (row["settled"], row["in_transit"]) for row in money_by_method(close)}

    assert rows == {
        "Cash": ("—", "—"),
        "Card": ("₹0.00", "₹1,200.00"),
        "UPI": ("₹500.00", "₹0.00"),
    }
