"""The desk beyond today, in real Chromium: a patient phones about tomorrow and next week;
a half-typed cancel reason survives another desk's change; the board at phone width.

Screenshots go to artifacts/screenshots/ (not committed).
"""

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from apps.clinic.models import Branch
from apps.eventstore.projections import catch_up
from apps.scheduling import commands
from apps.scheduling.formats import human_date, human_when
from apps.tenants.models import Tenant
from tests.browser.chromium import SHOTS, needs_chromium, tenant_site
from tests.browser.desk import open_all_day_doctor, receptionists, sign_in

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(240),
    needs_chromium,
]


@pytest.fixture(scope="module")
def clinic(
    ten_oclock: dict[str, str], committed_tenant: Tenant, django_db_blocker: Any
) -> dict[str, Any]:
    """Meera Iyer has visits tomorrow and next week; today two others are due soon."""
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        branch = Branch.objects.get()
        zone = ZoneInfo(branch.timezone)
        doctor = open_all_day_doctor(branch, "Dr. Vikram Rao", "600.00")
        receptionists(branch, ["desk3@example.com", "desk4@example.com"])

        def patient(name: str, phone: str) -> Any:
            return commands.patient_register(actor=None, name=name, phone=phone, branch=branch)

        def book(who: Any, start: datetime) -> Any:
            return commands.appointment_book(actor=None, doctor=doctor, patient=who, start=start)

        today = timezone.now().astimezone(zone).date()
        meera = patient("Meera Iyer", "+919811122233")
        tomorrow = book(meera, datetime.combine(today + timedelta(days=1), time(10), zone))
        next_week = book(meera, datetime.combine(today + timedelta(days=8), time(11, 30), zone))
        # Today, due in about half an hour: one to cancel, one another desk checks in.
        soon = timezone.now().astimezone(zone) + timedelta(minutes=30)
        soon = soon.replace(minute=soon.minute - soon.minute % 5, second=0, microsecond=0)
        to_cancel = book(patient("Dev Malhotra", "+919811122244"), soon)
        to_check_in = book(patient("Sana Khan", "+919811122255"), soon + timedelta(minutes=5))
        catch_up()
        return {
            "branch": branch.pk,
            "tomorrow": tomorrow.pk,
            "next_week": next_week.pk,
            "to_cancel": to_cancel.pk,
            "to_check_in": to_check_in.pk,
            "tomorrow_words": human_when(tomorrow.start, branch.timezone),
            "next_week_date": next_week.start.astimezone(zone).date(),
        }


@pytest.fixture(scope="module")
def browser(
    committed_tenant: Tenant,
    clinic: dict[str, Any],
    ten_oclock: dict[str, str],
    django_db_blocker: Any,
) -> Iterator[tuple[Browser, str]]:
    with tenant_site(committed_tenant, django_db_blocker, **ten_oclock) as site:
        yield site


def signed_in(chromium: Browser, base: str, email: str, width: int = 1280) -> Page:
    page = chromium.new_context(viewport={"width": width, "height": 800}).new_page()
    sign_in(page, base, email)
    return page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_receptionist_handling_tomorrows_cancel_and_a_deposit_for_next_week(
    browser: tuple[Browser, str], clinic: dict[str, Any]
) -> None:
    chromium, base = browser
    desk = signed_in(chromium, base, "desk3@example.com")

    # The patient phones: find her, see tomorrow's visit, cancel it with her reason.
    desk.get_by_role("link", name="Find or register patient").click()
    desk.get_by_label("Patient's phone").fill("98111 22233")
    desk.get_by_role("button", name="Find").click()
    expect(desk.get_by_test_id("next-visit")).to_have_text(
        f"next visit {clinic['tomorrow_words']} with Dr. Vikram Rao"
    )
    desk.get_by_role("link", name="Meera Iyer").click()
    upcoming = desk.get_by_test_id("upcoming")
    expect(upcoming.locator(f"tr[data-appointment='{clinic['tomorrow']}']")).to_contain_text(
        "600.00"
    )
    shot(desk, "10-patient-page")
    upcoming.locator(f"tr[data-appointment='{clinic['tomorrow']}']").get_by_role(
        "link", name="Cancel, move…"
    ).click()
    expect(desk.get_by_test_id("visit-when")).to_have_text(clinic["tomorrow_words"])
    desk.get_by_label("Reason").fill("Travelling for work")
    desk.get_by_role("button", name="Cancel the visit").click()
    expect(desk.get_by_role("status")).to_have_text(
        f"Cancelled Meera Iyer with Dr. Vikram Rao on {clinic['tomorrow_words']}."
    )
    expect(desk.locator(".visit-facts")).to_contain_text("Cancelled")

    # Next week's deposit: open the week on the calendar, then the visit, then its payments.
    desk.get_by_role("link", name="Calendar").click()
    desk.get_by_label("Date", exact=True).fill(clinic["next_week_date"].isoformat())
    desk.get_by_label("Show").select_option("week")
    desk.get_by_role("button", name="Show").click()
    day = desk.get_by_role("region", name=human_date(clinic["next_week_date"]))
    expect(day).to_contain_text("Meera Iyer")
    shot(desk, "11-calendar-week")
    day.get_by_role("link", name="Meera Iyer").click()
    expect(desk.get_by_role("heading", name="Meera Iyer with Dr. Vikram Rao")).to_be_visible()
    shot(desk, "12-visit-page")
    desk.get_by_role("link", name="Payments and deposit").click()
    expect(desk.get_by_role("heading", name="Payments — Meera Iyer")).to_be_visible()
    expect(desk.get_by_test_id("balance-due")).to_contain_text("600.00")

    # She is a senior citizen: 10 % off the bill first, then the deposit on what is left.
    discount = desk.get_by_test_id("discount-form")
    discount.get_by_label("Discount or concession").select_option("senior_citizen")
    discount.get_by_label("Amount off (before tax)").fill("60.00")
    discount.get_by_label("Reason").fill("Senior citizen card seen")
    discount.get_by_role("button", name="Take it off the bill").click()
    expect(desk.get_by_role("status")).to_contain_text(
        "Senior citizen discount for Meera Iyer: ₹60.00 off the bill, now ₹540.00."
    )
    expect(desk.get_by_label("Amount to take")).to_have_value("540.00")
    desk.get_by_label("Amount to take").fill("200.00")
    desk.get_by_label("Method").select_option("cash")
    desk.get_by_role("button", name="Take payment").click()
    expect(desk.get_by_role("status")).to_contain_text(
        "Took ₹200.00 from Meera Iyer by Cash (deposit)."
    )
    expect(desk.get_by_test_id("balance-due")).to_have_text("balance due ₹340.00")
    shot(desk, "14-next-week-discount-and-deposit")


def test_a_half_typed_cancel_reason_survives_another_desks_change(
    browser: tuple[Browser, str], clinic: dict[str, Any]
) -> None:
    chromium, base = browser
    typing = signed_in(chromium, base, "desk3@example.com")
    other = signed_in(chromium, base, "desk4@example.com")
    reason = typing.locator(f"#reason-{clinic['to_cancel']}")
    reason.click()
    reason.press_sequentially("Patient called, fe")  # half typed, the cursor still in it

    other.locator(f"#row-{clinic['to_check_in']}").get_by_role("button", name="Check in").click()
    expect(other.locator(f"#row-{clinic['to_check_in']}")).to_contain_text("Checked in")

    # The typing screen's board is updated live around the field, which keeps its text.
    expect(typing.locator(f"#row-{clinic['to_check_in']}")).to_contain_text(
        "Checked in", timeout=5000
    )
    expect(reason).to_have_value("Patient called, fe")
    expect(reason).to_be_focused()
    reason.press_sequentially("ver")
    typing.locator(f"#row-{clinic['to_cancel']}").get_by_role("button", name="Cancel").click()
    expect(typing.locator(f"#row-{clinic['to_cancel']}")).to_contain_text("Cancelled")
    expect(typing.get_by_role("status").first).to_contain_text("Cancelled Dev Malhotra")


def test_the_board_fits_a_phone(browser: tuple[Browser, str], clinic: dict[str, Any]) -> None:
    chromium, base = browser
    phone = signed_in(chromium, base, "desk4@example.com", width=375)

    row = phone.locator(f"#row-{clinic['to_check_in']}")
    expect(row).to_be_visible()
    shot(phone, "13-board-375px")

    page_width = phone.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 375, f"the board is {page_width}px wide at 375px"
    box = row.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    for link in ("Payments", "Receipt"):
        link_box = row.get_by_role("link", name=link).bounding_box()
        assert link_box is not None and link_box["x"] + link_box["width"] <= 375, link
