"""A manager works the HL7 error queue in the admin, in real Chromium: the queue filtered to
errors (no patient data in the list), the message with its text, fixed and sent through
again. Screenshots go to artifacts/screenshots/hl7-*.png (not committed)."""

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from apps.clinic.commands import staff_create
from apps.integration.commands import channel_add
from apps.tenants.models import Tenant
from tests.browser.chromium import SHOTS, needs_chromium, tenant_site
from tests.integration.traffic import adt, receive

PASSWORD = "queue-manager-password-1"
MANAGER = "ravi.queue@chain.example.com"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), needs_chromium]


@pytest.fixture(scope="module")
def failed(committed_tenant: Tenant, django_db_blocker: Any) -> int:
    """A registration from the hospital without a phone: in the error queue."""
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        channel = channel_add(
            actor=None, name="City Hospital", sending_facility="CITYQ", direction="inbound"
        )
        text = adt("A04", tenant=committed_tenant.slug, facility="CITYQ", identifier="MRN-42",
                   name="Kulkarni^Sunita", phone="", control_id="CITY-0042")  # fmt: skip
        staff_create(actor=None, name="Ravi Shah", email=MANAGER, password=PASSWORD, role="manager")
        return receive(channel, text).pk


@pytest.fixture(scope="module")
def browser(
    committed_tenant: Tenant, failed: int, django_db_blocker: Any
) -> Iterator[tuple[Browser, str]]:
    with tenant_site(committed_tenant, django_db_blocker) as site:
        yield site


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"hl7-{name}.png"), full_page=True)


def test_a_manager_fixes_a_message_from_the_error_queue(
    browser: tuple[Browser, str], failed: int
) -> None:
    chromium, base = browser
    page = chromium.new_context(viewport={"width": 1366, "height": 800}).new_page()
    page.goto(f"{base}/admin/login/?next=/admin/integration/message/?status__exact=error")
    page.locator("#id_username").fill(MANAGER)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("CITY-0042")
    expect(rows.first).to_contain_text("phone: Enter a phone number")
    expect(page.get_by_text("Kulkarni")).to_have_count(0)
    shot(page, "01-error-queue")

    rows.first.locator("th a").click()
    box = page.locator("#id_raw")
    expect(box).to_contain_text("Kulkarni^Sunita")
    shot(page, "02-message")
    box.fill(box.input_value().rstrip("\n") + "||||||+919811122233")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text(f"Message {failed} reprocessed: Applied.")).to_be_visible()
    expect(page.get_by_text("was changed successfully")).to_have_count(0)
    shot(page, "03-reprocessed")
    page.goto(f"{base}/admin/integration/message/?status__exact=error")
    expect(page.locator("#result_list tbody tr")).to_have_count(0)
