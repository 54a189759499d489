"""Settlements in real Chromium: the UPI QR on the desk's pay page, and a manager working
the exception queue (a short settlement, a duplicate row, a row of no payment of ours and a
bank credit with no settlement), resolving one with a note.

Screenshots go to artifacts/screenshots/settlements-*.png (not committed).
"""

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from apps.clinic.commands import staff_create
from apps.clinic.models import Branch
from apps.scheduling import commands
from apps.settlements import commands as settlements
from apps.tenants.models import Tenant
from tests.browser.chromium import needs_chromium, tenant_site
from tests.browser.desk import PASSWORD, sign_in
from tests.browser.test_accessibility import AXE, serious_violations
from tests.browser.test_reception_day import shot
from tests.settlements.conftest import payment_row, report

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), needs_chromium]

STATEMENT = (
    b"date,narration,reference,credit,debit,balance\n"
    b"2027-01-06,NEFT CR RAZORPAY SOFTWARE PVT LTD UTIBR72027010600117,"
    b"UTIBR72027010600117,2210.40,,213770.28\n"
)


@pytest.fixture(scope="module")
def clinic(committed_tenant: Tenant, django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        branch = Branch.objects.get()
        settlements.branch_upi_set(
            actor=None, branch=branch, vpa="sunrise.andheri@okhdfcbank", payee="Sunrise Clinic"
        )
        doctor = commands.doctor_add(
            actor=None, branch=branch, name="Dr. Meera Shah", specialty="Paediatrics",
            slot_minutes=15, consultation_fee=Decimal("800.00"),
            weekly_hours=[{"weekday": d, "start": "08:00", "end": "20:00"} for d in range(7)],
        )  # fmt: skip
        for email, role in (
            ("desk-upi@example.com", "receptionist"),
            ("mgr@example.com", "manager"),
        ):
            staff_create(
                actor=None, name=email.split("@")[0].title(), email=email, password=PASSWORD,
                role=role, branches=[branch],
            )  # fmt: skip
        patient = commands.patient_register(actor=None, name="Kabir Rao", phone="98200 55667")
        zone = ZoneInfo(branch.timezone)
        tomorrow = timezone.now().astimezone(zone).date() + timedelta(days=1)
        visit = commands.appointment_book(
            actor=None, doctor=doctor, patient=patient,
            start=datetime.combine(tomorrow, time(11, 0), tzinfo=zone),
        )  # fmt: skip
        settlements.gateway_file_import(
            actor=None,
            raw=report(
                payment_row("pay_NX0unknown01", "650.00", "15.34", "2.34", "634.66", "setl_NX1"),
                payment_row("pay_NX0unknown02", "420.00", "9.91", "1.51", "400.00", "setl_NX2"),
                payment_row("pay_NX0unknown02", "420.00", "9.91", "1.51", "400.00", "setl_NX3"),
            ),
        )
        settlements.bank_statement_import(actor=None, raw=STATEMENT)
    return {"branch": branch.pk, "visit": visit.pk}


@pytest.fixture(scope="module")
def browser(
    committed_tenant: Tenant, clinic: dict[str, Any], django_db_blocker: Any
) -> Iterator[tuple[Browser, str]]:
    with tenant_site(committed_tenant, django_db_blocker) as site:
        yield site


def test_the_pay_page_shows_a_upi_qr_for_the_amount_due(
    browser: tuple[Browser, str], clinic: dict[str, Any]
) -> None:
    chromium, base = browser
    desk: Page = chromium.new_context(viewport={"width": 1366, "height": 768}).new_page()
    sign_in(desk, base, "desk-upi@example.com")

    desk.goto(f"{base}/reception/branches/{clinic['branch']}/appointments/{clinic['visit']}/pay/")

    qr = desk.get_by_test_id("upi-qr")
    expect(qr.locator("svg")).to_be_visible()
    expect(desk.get_by_test_id("upi-amount")).to_have_text("₹800.00")
    expect(desk.get_by_test_id("upi-reference")).to_have_text(f"A{clinic['visit']}-1")
    link = desk.get_by_test_id("upi-link").get_attribute("href")
    assert link == (
        "upi://pay?pa=sunrise.andheri@okhdfcbank&pn=Sunrise%20Clinic&am=800.00"
        f"&tr=A{clinic['visit']}-1&tn=Visit%20{clinic['visit']}&cu=INR"
    )
    box = qr.locator("svg").bounding_box()
    assert box is not None and box["width"] >= 150  # big enough to scan from a phone
    shot(desk, "settlements-upi-qr")


def test_a_manager_works_the_exception_queue(
    browser: tuple[Browser, str], clinic: dict[str, Any]
) -> None:
    chromium, base = browser
    manager: Page = chromium.new_context(viewport={"width": 1366, "height": 768}).new_page()
    sign_in(manager, base, "mgr@example.com")

    manager.goto(f"{base}/reception/settlements/")

    queue = manager.get_by_test_id("open-exceptions")
    expect(queue.get_by_test_id("exception-short_settlement")).to_be_visible()
    expect(queue.get_by_test_id("exception-duplicate_row")).to_be_visible()
    expect(queue.get_by_test_id("exception-unbanked_line")).to_contain_text("UTIBR72027010600117")
    expect(queue.get_by_test_id("exception-unmatched_row")).to_have_count(2)
    shot(manager, "settlements-exception-queue")

    row = queue.get_by_test_id("exception-unbanked_line")
    row.get_by_label("Note").fill("Payout of 6 Jan: its report comes with next week's file.")
    row.get_by_role("button", name="Resolve").click()

    expect(manager.get_by_text("Resolved: Bank credit with no settlement.")).to_be_visible()
    expect(manager.get_by_test_id("exception-unbanked_line")).to_have_count(0)
    expect(manager.get_by_text("Payout of 6 Jan")).to_be_visible()
    shot(manager, "settlements-exception-resolved")


def test_a_refused_file_lists_every_line_to_fix_in_the_managers_language(
    browser: tuple[Browser, str],
) -> None:
    """A statement with three bad dates: one alert, then all three lines, in English and in
    Hindi, with nothing serious for axe (the list scrolls and takes the keyboard's focus)."""
    assert AXE.exists(), "`scripts/local.sh setup` installs axe-core (npm ci)"
    chromium, base = browser
    context = chromium.new_context(viewport={"width": 1366, "height": 768}, bypass_csp=True)
    manager: Page = context.new_page()
    sign_in(manager, base, "mgr@example.com")
    bad = b"".join(f"0{day}/01/2027,NEFT,UTR{day},1500.00,,\n".encode() for day in (6, 7, 8))
    statement = {"name": "statement.csv", "mimeType": "text/csv", "buffer": STATEMENT[:46] + bad}

    for language, alert, line in (
        ("en", "Nothing was imported", "line 3: Use the format YYYY-MM-DD."),
        ("hi", "कुछ भी आयात नहीं हुआ", "पंक्ति 3: YYYY-MM-DD फ़ॉर्मैट में लिखें।"),
    ):
        manager.goto(f"{base}/reception/settlements/")
        if language == "hi":
            choice = manager.get_by_test_id("language-choice")
            choice.get_by_role("combobox").select_option("hi")
            choice.get_by_role("button").click()
            expect(manager.locator("html")).to_have_attribute("lang", "hi")
        upload = manager.get_by_test_id("settlement-upload")
        upload.locator("input[value=bank]").check()
        upload.locator("input[type=file]").set_input_files(statement)
        upload.locator("button[type=submit]").click()

        expect(manager.get_by_role("alert")).to_contain_text(alert)
        problems = manager.get_by_test_id("line-problems").locator("li")
        expect(problems).to_have_count(3)
        expect(problems.nth(1)).to_have_text(line)
        assert serious_violations(manager) == []
        shot(manager, f"settlements-file-refused-{language}")
    context.close()
