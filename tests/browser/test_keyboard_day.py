"""A front-desk day with the keyboard alone, in real Chromium: no click, no fill, only Tab,
Enter, typing and the arrow keys. The receptionist signs in, registers and books a walk-in,
checks them in (a token), takes a payment; the doctor calls, starts and ends the visit; the
desk moves one booked visit and cancels another. Every stop of the focus is visibly marked.

Screenshots: artifacts/screenshots/keyboard-*.png (not committed).
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Locator, Page, expect

from apps.clinic.commands import staff_create
from apps.clinic.models import Branch
from apps.scheduling import commands
from apps.scheduling.slots import free_slots
from apps.tenants.models import Tenant
from tests.browser.chromium import SHOTS, needs_chromium, tenant_site
from tests.browser.desk import PASSWORD, signing_in_doctor

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300), needs_chromium]

# What the focused element looks like: its outline (the console's focus ring) or shadow.
FOCUS_RING = """([target]) => {
  const focused = document.activeElement;
  const style = getComputedStyle(focused);
  return {
    reached: target === focused,
    element: focused.outerHTML.slice(0, 120),
    outline: style.outlineStyle,
    width: parseFloat(style.outlineWidth) || 0,
    shadow: style.boxShadow,
    body: focused === document.body,
  };
}"""


@pytest.fixture(scope="module")
def day(
    ten_oclock: dict[str, str], committed_tenant: Tenant, django_db_blocker: Any
) -> dict[str, Any]:
    """A doctor who signs in, seeing all day; a receptionist; a patient booked twice later
    today (one visit to move, one to cancel)."""
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        branch = Branch.objects.get()
        zone = ZoneInfo(branch.timezone)
        doctor = signing_in_doctor(branch, "Farhan Ali", "farhan@example.com", "450.00")
        staff_create(
            actor=None,
            name="Keys Desk",
            email="keys@example.com",
            password=PASSWORD,
            role="receptionist",
            branches=[branch],
        )
        regular = commands.patient_register(
            actor=None, name="Gauri Shinde", phone="+919820055501", branch=branch
        )
        today = timezone.now().astimezone(zone).date()
        later = [
            s.start
            for s in free_slots(doctor, today)
            if s.start > timezone.now() + timedelta(hours=1)
        ]
        to_move, to_cancel = (
            commands.appointment_book(actor=None, doctor=doctor, patient=regular, start=start)
            for start in (later[-1], later[-3])
        )
    return {"branch": branch.pk, "to_move": to_move.pk, "to_cancel": to_cancel.pk}


@pytest.fixture(scope="module")
def site(
    committed_tenant: Tenant,
    day: dict[str, Any],
    ten_oclock: dict[str, str],
    django_db_blocker: Any,
) -> Iterator[tuple[Browser, str]]:
    with tenant_site(committed_tenant, django_db_blocker, **ten_oclock) as opened:
        yield opened


def tab_to(page: Page, target: Locator, limit: int = 120) -> None:
    """Presses Tab until `target` has the focus; at every stop on the way the focused element
    must show a focus ring."""
    target.wait_for()
    handle = target.element_handle()
    for _ in range(limit):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_RING, [handle])
        if focus["body"]:
            continue  # past the last element: the next Tab starts again from the top
        assert (focus["outline"] != "none" and focus["width"] >= 2) or focus["shadow"] != (
            "none"
        ), f"no visible focus on {focus['element']}"
        if focus["reached"]:
            return
    raise AssertionError(f"Tab never reached {target}")


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login/")
    tab_to(page, page.get_by_label("Email"))
    page.keyboard.type(email)
    tab_to(page, page.get_by_label("Password"))
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login/" not in url)


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"keyboard-{name}.png"), full_page=True)


def test_a_front_desk_day_with_the_keyboard_alone(
    site: tuple[Browser, str], day: dict[str, Any]
) -> None:
    chromium, base = site
    desk = chromium.new_context(viewport={"width": 1366, "height": 768}).new_page()
    doctor = chromium.new_context(viewport={"width": 1366, "height": 768}).new_page()

    # Signed in, the desk lands on the board.
    sign_in(desk, base, "keys@example.com")
    expect(desk.get_by_role("heading", name="Today", exact=False)).to_be_visible()

    # A walk-in: registered, then booked into the first free slot of today.
    tab_to(desk, desk.get_by_role("link", name="Find or register patient"))
    desk.keyboard.press("Enter")
    tab_to(desk, desk.get_by_label("Full name"))
    desk.keyboard.type("Mohan Lal")
    tab_to(desk, desk.get_by_label("Phone", exact=True))
    desk.keyboard.type("+919820055502")
    tab_to(desk, desk.get_by_label("Messages in"))
    desk.keyboard.press("ArrowDown")  # हिन्दी
    tab_to(desk, desk.get_by_role("button", name="Register"))
    shot(desk, "01-register")
    desk.keyboard.press("Enter")
    expect(desk.get_by_role("heading", name="Book for Mohan Lal")).to_be_visible()
    tab_to(desk, desk.get_by_role("button", name="Show free slots"))
    desk.keyboard.press("Enter")
    tab_to(desk, desk.locator("fieldset.slots button").first)
    shot(desk, "02-slots")
    desk.keyboard.press("Enter")
    expect(desk.get_by_text("Booked Mohan Lal with Dr. Farhan Ali on")).to_be_visible()

    # Checked in: the board shows the walk-in's token.
    tab_to(desk, desk.get_by_role("button", name="Check in"))
    desk.keyboard.press("Enter")
    expect(desk.get_by_text("Checked in Mohan Lal with Dr. Farhan Ali on")).to_be_visible()
    tab_to(desk, desk.get_by_role("link", name="Board", exact=True))
    desk.keyboard.press("Enter")
    walk_in = desk.get_by_test_id("queue").get_by_role("row").filter(has_text="Mohan Lal")
    expect(walk_in.get_by_test_id("token")).to_have_text("1")
    shot(desk, "03-board-token")

    # The fee, taken by UPI from the walk-in's payments page.
    tab_to(desk, walk_in.get_by_role("link", name="Payments"))
    desk.keyboard.press("Enter")
    expect(desk.get_by_label("Amount to take")).to_have_value("450.00")
    tab_to(desk, desk.get_by_label("Method", exact=True))
    desk.keyboard.type("UPI")
    tab_to(desk, desk.get_by_role("button", name="Take payment"))
    desk.keyboard.press("Enter")
    expect(desk.get_by_text("Took ₹450.00 from Mohan Lal by UPI (deposit).")).to_be_visible()
    expect(desk.get_by_test_id("nothing-due")).to_be_visible()
    shot(desk, "04-paid")

    # The doctor calls the walk-in, starts and ends the consultation.
    sign_in(doctor, base, "farhan@example.com")
    tab_to(doctor, doctor.get_by_test_id("call-next"))
    doctor.keyboard.press("Enter")
    row = doctor.get_by_test_id("doctor-queue").locator('tr[data-token="1"]')
    expect(row).to_have_attribute("data-stage", "called")
    tab_to(doctor, row.get_by_role("button", name="Start"))
    doctor.keyboard.press("Enter")
    expect(row).to_have_attribute("data-stage", "started")
    tab_to(doctor, row.get_by_role("button", name="End"))
    doctor.keyboard.press("Enter")
    expect(row).to_have_attribute("data-stage", "done")
    shot(doctor, "05-doctor-done")

    # The regular patient's later visit moves to another free slot of today ...
    tab_to(desk, desk.get_by_role("link", name="Find or register patient"))
    desk.keyboard.press("Enter")
    tab_to(desk, desk.get_by_label("Patient's phone"))
    desk.keyboard.type("+919820055501")
    desk.keyboard.press("Enter")
    tab_to(desk, desk.get_by_test_id("found").get_by_role("link", name="Gauri Shinde"))
    desk.keyboard.press("Enter")
    moving = desk.locator(f'tr[data-appointment="{day["to_move"]}"]')
    tab_to(desk, moving.get_by_role("link", name="Cancel, move…"))
    desk.keyboard.press("Enter")
    tab_to(desk, desk.get_by_role("link", name="Reschedule"))
    desk.keyboard.press("Enter")
    tab_to(desk, desk.locator("fieldset.slots button").first)
    desk.keyboard.press("Enter")
    expect(desk.get_by_text("Moved Gauri Shinde with Dr. Farhan Ali from")).to_be_visible()
    shot(desk, "06-moved")

    # ... and the other one is cancelled, with its reason.
    tab_to(desk, desk.get_by_role("link", name="All visits of this patient"))
    desk.keyboard.press("Enter")
    cancelling = desk.locator(f'tr[data-appointment="{day["to_cancel"]}"]')
    tab_to(desk, cancelling.get_by_role("link", name="Cancel, move…"))
    desk.keyboard.press("Enter")
    tab_to(desk, desk.get_by_label("Reason"))
    desk.keyboard.type("Patient travelling")
    desk.keyboard.press("Enter")
    expect(desk.get_by_text("Cancelled Gauri Shinde with Dr. Farhan Ali on")).to_be_visible()
    expect(desk.get_by_test_id("visit-when")).to_be_visible()
    shot(desk, "07-cancelled")

    desk.context.close()
    doctor.context.close()
