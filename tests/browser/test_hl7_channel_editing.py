"""An integration analyst (a manager) edits an HL7 channel and its mapping in the admin, in
real Chromium: the channel's routing and retry settings, a new mapping version drafted from
the live one, tried on a sample message (the message and the command fields it makes side
by side), made live, then rolled back. Screenshots go to artifacts/screenshots/
hl7-channel-*.png (not committed)."""

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection as db_connection
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from apps.audit.models import AuditEntry
from apps.clinic.commands import staff_create
from apps.integration.commands import channel_add
from apps.integration.models import Channel, MappingVersion
from apps.tenants.models import Tenant
from tests.browser.chromium import SHOTS, needs_chromium, tenant_site

PASSWORD = "channel-analyst-password-1"
ANALYST = "meera.hl7@chain.example.com"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), needs_chromium]


@pytest.fixture(scope="module")
def channel(committed_tenant: Tenant, django_db_blocker: Any) -> int:
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        staff_create(actor=None, name="Meera Iyer", email=ANALYST, password=PASSWORD,
                     role="manager")  # fmt: skip
        return channel_add(
            actor=None, name="Apollo ADT", sending_facility="APOLLOEDIT", direction="inbound"
        ).pk


@pytest.fixture(scope="module")
def browser(
    committed_tenant: Tenant, channel: int, django_db_blocker: Any
) -> Iterator[tuple[Browser, str]]:
    with tenant_site(committed_tenant, django_db_blocker) as site:
        yield site


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"hl7-channel-{name}.png"), full_page=True)


def test_an_analyst_edits_a_channel_tries_a_new_mapping_makes_it_live_and_rolls_back(
    browser: tuple[Browser, str],
    channel: int,
    committed_tenant: Tenant,
    django_db_blocker: Any,
) -> None:
    chromium, base = browser
    page = chromium.new_context(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(f"{base}/admin/login/?next=/admin/integration/channel/{channel}/change/")
    page.locator("#id_username").fill(ANALYST)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # The channel: renamed, a new routing key, holding on error, fewer retries.
    page.locator("#id_name").fill("Apollo ADT (main campus)")
    page.locator("#id_sending_facility").fill("APOLLOMAIN")
    page.locator("#id_hold_on_error").check()
    page.locator("#id_max_retries").fill("1")
    shot(page, "01-edit")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator("#id_sending_facility")).to_have_value("APOLLOMAIN")

    # A new mapping version, from the live one: the phone is the second PID-13 repetition.
    page.get_by_role("link", name="New version (from the live one)").click()
    document = json.loads(page.locator("#id_document").input_value())
    document["fields"]["phone"] = {"path": "PID.F13.R2.C1", "required": True}
    page.locator("#id_document").fill(json.dumps(document, indent=2))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Version 1 saved as a draft: try it on samples.")).to_be_visible()
    expect(page.get_by_role("button", name="Make version 1 live")).to_have_count(0)

    sample = (
        f"MSH|^~\\&|HIS|APOLLOMAIN|MYMEDIC|{committed_tenant.slug}|20270104090000||"
        "ADT^A04^ADT_A01|APL-1|P|2.5\n"
        "PID|||MRN-900^^^APOLLOMAIN^MR||Rao^Kavya||19900101|F|||||+914000000001~+919822200011"
    )
    page.locator("#id_samples").fill(sample)
    page.get_by_role("button", name="Try version 1").click()
    result = page.locator(".hl7-sample").first
    expect(result).to_contain_text("PID|||MRN-900")  # the message, left
    expect(result).to_contain_text("register")  # what it becomes, right
    expect(result.locator(".hl7-fields")).to_contain_text("+919822200011")
    expect(result.locator(".hl7-fields")).to_contain_text("PID.F13.R2.C1")
    expect(result.locator(".hl7-fields")).to_contain_text("Kavya Rao")
    shot(page, "02-try")

    page.get_by_role("button", name="Make version 1 live").click()
    expect(page.get_by_text("Version 1 is live.")).to_be_visible()
    shot(page, "03-live")

    # Rolling back: version 2 made live, then the channel page brings version 1 back.
    page.goto(f"{base}/admin/integration/mappingversion/add/?channel={channel}")
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("#id_samples").fill(sample)
    page.get_by_role("button", name="Try version 2").click()
    page.get_by_role("button", name="Make version 2 live").click()
    page.goto(f"{base}/admin/integration/channel/{channel}/change/")
    page.locator("#id_live_mapping").select_option(label="Version 1 (retired)")
    shot(page, "04-rollback")
    page.get_by_role("button", name="Save", exact=True).click()
    row = page.locator("#result_list tbody tr", has_text="Apollo ADT (main campus)")
    expect(row).to_contain_text("Version 1")
    shot(page, "05-list")

    def stored() -> tuple[Channel, str, list[str]]:
        # Playwright's loop runs in this thread: the database is read from another one.
        try:
            with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
                first = MappingVersion.objects.get(channel_id=channel, number=1)
                entries = AuditEntry.objects.filter(target=f"hl7channel:{channel}").order_by("id")
                return (
                    Channel.objects.get(pk=channel),
                    first.status,
                    list(entries.values_list("action", flat=True)),
                )
        finally:
            db_connection.close()

    with ThreadPoolExecutor(1) as reader:
        saved, first_status, actions = reader.submit(stored).result(30)
    assert (saved.sending_facility, saved.hold_on_error, saved.max_retries) == (
        "APOLLOMAIN", True, 1
    )  # fmt: skip
    assert first_status == MappingVersion.Status.LIVE
    assert actions == [
        "hl7.channel.edit", "hl7.mapping.test", "hl7.mapping.activate", "hl7.mapping.test",
        "hl7.mapping.activate", "hl7.mapping.rollback",
    ]  # fmt: skip
