"""The password page in real Chromium (screenshots in artifacts/screenshots/), and the body cap
in front of the real daphne server."""

import http.client
from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect, sync_playwright

from apps.clinic.commands import staff_create
from apps.clinic.models import Branch
from apps.tenants.models import Tenant
from tests import servers
from tests.browser.chromium import CHROMIUM, FLAGS, SHOTS, needs_chromium

PASSWORD = "front-desk-password-1"
NEW_PASSWORD = "a-fresh-passphrase-42"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(240),
    needs_chromium,
]


@pytest.fixture(scope="module")
def server(committed_tenant: Tenant, django_db_blocker: Any) -> Iterator[tuple[int, str]]:
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        staff_create(
            actor=None,
            name="Asha Desk",
            email="asha@example.com",
            password=PASSWORD,
            role="receptionist",
            branches=[Branch.objects.get()],
        )
    with django_db_blocker.unblock(), servers.asgi_server(MYMEDIC_MAX_BODY_BYTES="2000") as port:
        yield port, f"{committed_tenant.slug}.localhost"


@pytest.fixture(scope="module")
def chromium(server: tuple[int, str]) -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def post(port: int, host: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Host": host, **headers})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        conn.close()


def test_daphne_refuses_an_oversized_body_with_a_json_413(server: tuple[int, str]) -> None:
    port, host = server

    status, content_type, body = post(
        port,
        host,
        "/api/v1/auth/token/",
        b"{" + b" " * 5000 + b"}",
        {"Content-Type": "application/json"},
    )

    assert (status, content_type) == (413, "application/json")
    assert b"too large" in body


def test_a_receptionist_changes_their_password_in_the_console(
    chromium: Browser, server: tuple[int, str]
) -> None:
    port, host = server
    page = chromium.new_page(viewport={"width": 1366, "height": 768})
    base = f"http://{host}:{port}"
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill("asha@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Password").click()
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD + "x")
    page.get_by_role("button", name="Change password").click()
    error = page.locator(".field.has-error", has_text="New password again")
    expect(error).to_contain_text("The two new passwords differ.")
    page.screenshot(path=str(SHOTS / "account-password-error.png"), full_page=True)

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Password changed.")
    page.screenshot(path=str(SHOTS / "account-password-changed.png"), full_page=True)
    page.close()
