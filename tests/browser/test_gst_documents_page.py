"""GST documents at the desk in real Chromium: medicines added to a visit's bill, a Bill of
Supply and a Tax Invoice issued, printed, and a returned medicine credited.

Screenshots go to artifacts/screenshots/gst-*.png (not committed).
"""

from collections.abc import Iterator
from datetime import time
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from apps.billing import commands as billing
from apps.tenants.models import Tenant
from tests.browser.chromium import needs_chromium, tenant_site
from tests.browser.desk import sign_in, visit_tomorrow
from tests.browser.test_reception_day import shot

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), needs_chromium]


@pytest.fixture(scope="module")
def visit(committed_tenant: Tenant, django_db_blocker: Any) -> dict[str, int]:
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        billing.gst_supplier_set(
            actor=None,
            legal_name="Sahyadri Family Clinic LLP",
            gstin="27AAPFU0939F1ZV",
            address="4 FC Road, Shivajinagar, Pune 411005",
        )
        return visit_tomorrow(
            doctor="Dr. Meera Kulkarni",
            fee="500.00",
            desk=("Desk GST", "desk-gst@example.com"),
            patient=("Rohan Deshpande", "98220 11223"),
            at=time(11, 0),
        )


@pytest.fixture(scope="module")
def browser(
    committed_tenant: Tenant, visit: dict[str, Any], django_db_blocker: Any
) -> Iterator[tuple[Browser, str]]:
    with tenant_site(committed_tenant, django_db_blocker) as site:
        yield site


def test_a_desk_issues_prints_and_credits_gst_documents(
    browser: tuple[Browser, str], visit: dict[str, Any]
) -> None:
    chromium, base = browser
    desk: Page = chromium.new_context(viewport={"width": 1366, "height": 768}).new_page()
    sign_in(desk, base, "desk-gst@example.com")
    desk.goto(f"{base}/reception/branches/{visit['branch']}/appointments/{visit['appointment']}/")
    desk.get_by_role("link", name="GST documents").click()

    # Two strips of an antibiotic at MRP ₹105.00 each.
    form = desk.get_by_test_id("item-form")
    form.get_by_label("Kind").select_option("pharmacy")
    form.get_by_label("Description").fill("Amoxicillin 500 mg, strip of 10")
    form.get_by_label("Quantity").fill("2")
    form.get_by_label("Price per unit").fill("105.00")
    form.get_by_role("button", name="Add to the bill").click()
    expect(desk.get_by_text("Added Amoxicillin 500 mg, strip of 10 to the bill")).to_be_visible()
    expect(desk.get_by_test_id("gst-charges")).to_contain_text("3004")

    desk.get_by_role("button", name="Issue documents").click()
    expect(desk.get_by_text("Issued Bill of Supply BOS/")).to_be_visible()
    shot(desk, "gst-visit")

    desk.get_by_role("link", name="Tax Invoice TI/").click()
    document = desk.get_by_test_id("gst-document")
    expect(document).to_contain_text("Tax Invoice")
    expect(document).to_contain_text("GSTIN 27AAPFU0939F1ZV")
    expect(document).to_contain_text("Maharashtra (27)")
    expect(desk.get_by_test_id("gst-total")).to_have_text("₹210.00")
    expect(document.locator("tfoot")).to_contain_text("₹200.00")
    expect(document.locator("tfoot")).to_contain_text("₹5.00")
    expect(document).to_contain_text("Rupees Two Hundred Ten only")
    shot(desk, "gst-tax-invoice")
    desk.emulate_media(media="print")
    shot(desk, "gst-tax-invoice-print")
    expect(desk.get_by_role("button", name="Print")).to_be_hidden()
    desk.emulate_media(media="screen")

    desk.go_back()
    desk.get_by_role("link", name="Bill of Supply BOS/").click()
    expect(desk.get_by_test_id("gst-document")).to_contain_text("Exempt supply of health care")
    expect(desk.get_by_test_id("gst-total")).to_have_text("₹500.00")
    shot(desk, "gst-bill-of-supply")

    # The medicines come back unopened: withdrawing the line issues the credit note.
    desk.goto(
        f"{base}/reception/branches/{visit['branch']}/appointments/{visit['appointment']}/pay/"
    )
    withdraw = desk.get_by_test_id("withdraw-1")
    withdraw.get_by_label("Reason").fill("Returned unopened")
    withdraw.get_by_role("button", name="Withdraw").click()
    expect(desk.get_by_role("status")).to_contain_text("Credit note CN")
    desk.get_by_role("link", name="GST documents").click()
    desk.get_by_role("link", name="Credit Note CN/").click()
    document = desk.get_by_test_id("gst-document")
    expect(document.locator(".invoice-meta")).to_contain_text("TI/2627/000001 of")
    expect(desk.get_by_test_id("gst-total")).to_have_text("₹210.00")
    shot(desk, "gst-credit-note")
