"""The payments page in real Chromium: a deposit, the balance taken as pre-filled, a
senior-citizen concession paid back in cash, and a receipt with nothing due.

Screenshots go to artifacts/screenshots/ (not committed).
"""

from collections.abc import Iterator
from datetime import time
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from apps.tenants.models import Tenant
from tests.browser.chromium import needs_chromium, tenant_site
from tests.browser.desk import sign_in, visit_tomorrow
from tests.browser.test_reception_day import shot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(240),
    needs_chromium,
]


@pytest.fixture(scope="module")
def visit(committed_tenant: Tenant, django_db_blocker: Any) -> dict[str, int]:
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        return visit_tomorrow(
            doctor="Dr. Arun Pillai",
            fee="600.00",
            desk=("Desk Three", "desk3@example.com"),
            patient=("Asha Iyer", "98200 33445"),
            at=time(10, 0),
        )


@pytest.fixture(scope="module")
def browser(
    committed_tenant: Tenant, visit: dict[str, Any], django_db_blocker: Any
) -> Iterator[tuple[Browser, str]]:
    with tenant_site(committed_tenant, django_db_blocker) as site:
        yield site


def test_deposit_balance_and_a_senior_citizen_concession_leave_nothing_due(
    browser: tuple[Browser, str], visit: dict[str, Any]
) -> None:
    chromium, base = browser
    desk: Page = chromium.new_context(viewport={"width": 1366, "height": 768}).new_page()
    sign_in(desk, base, "desk3@example.com")
    desk.goto(
        f"{base}/reception/branches/{visit['branch']}/appointments/{visit['appointment']}/pay/"
    )

    # The whole bill is offered; the desk takes a deposit of 200 in cash.
    expect(desk.get_by_label("Amount to take")).to_have_value("600.00")
    expect(desk.get_by_label("Kind")).to_have_value("deposit")
    shot(desk, "pay-01-nothing-paid")
    desk.get_by_label("Amount to take").fill("200.00")
    desk.get_by_label("Method").select_option("cash")
    desk.get_by_role("button", name="Take payment").click()
    expect(desk.get_by_text("Took ₹200.00 from Asha Iyer by Cash (deposit).")).to_be_visible()

    # The balance is pre-filled: one click (and the method) takes it.
    expect(desk.get_by_label("Amount to take")).to_have_value("400.00")
    expect(desk.get_by_label("Kind")).to_have_value("balance")
    shot(desk, "pay-02-balance-prefilled")
    desk.get_by_label("Method").select_option("upi")
    desk.get_by_role("button", name="Take payment").click()
    expect(desk.get_by_text("Took ₹400.00 from Asha Iyer by UPI (balance).")).to_be_visible()
    expect(desk.get_by_test_id("balance-due")).to_have_text("balance due ₹0.00")

    # A concession beyond the receptionist's cap is refused beside its row, typed values kept.
    row = desk.locator("form.inline-refund").first
    row.get_by_label("Refund as").select_option("concession")
    row.get_by_label("Concession").select_option("senior_citizen")
    row.get_by_label("Amount").fill("150.00")
    row.get_by_label("Reason").fill("Senior citizen")
    row.get_by_role("button", name="Refund").click()
    row = desk.locator("form.inline-refund").first
    expect(row.get_by_role("alert")).to_contain_text("A receptionist may take at most 20%")
    expect(row.get_by_label("Amount")).to_have_value("150.00")
    expect(row.get_by_label("Reason")).to_have_value("Senior citizen")
    shot(desk, "pay-03-concession-over-cap")

    # 100 off as a senior-citizen concession, paid back from the cash deposit.
    row.get_by_label("Amount").fill("100.00")
    row.get_by_role("button", name="Refund").click()
    expect(desk.get_by_text("Paid back ₹100.00 to Asha Iyer by Cash")).to_be_visible()
    expect(desk.get_by_test_id("balance-due")).to_have_text("balance due ₹0.00")
    shot(desk, "pay-04-concession-paid-back")

    desk.get_by_role("link", name="Print receipt").click()
    expect(desk.get_by_test_id("receipt-balance-due")).to_have_text("₹0.00")
    expect(desk.get_by_text("Senior citizen discount")).to_be_visible()
    expect(desk.locator("tfoot")).to_contain_text("500.00")
    shot(desk, "pay-05-receipt")
