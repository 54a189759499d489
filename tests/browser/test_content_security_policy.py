"""The Content-Security-Policy holds on every kind of page, in real Chromium: no page needs an
inline script or a foreign source (each violation is caught in the page as it happens)."""

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page

from apps.billing import commands as billing
from apps.clinic.commands import staff_create
from apps.clinic.models import Branch
from apps.scheduling import commands
from apps.scheduling.slots import free_slots
from apps.tenants.models import Tenant
from tests.browser.chromium import chromium_and_server, needs_chromium
from tests.conftest import OWNER_PASSWORD

DESK, PASSWORD = "csp.desk@example.com", "front-desk-password-1"
# Collects every violation the page reports (an init script is not itself subject to the CSP).
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), needs_chromium]


@pytest.fixture(scope="module")
def clinic(committed_tenant: Tenant, django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        branch = Branch.objects.get()
        doctor = commands.doctor_add(
            actor=None,
            branch=branch,
            name="Dr. Policy",
            specialty="General medicine",
            slot_minutes=15,
            consultation_fee=Decimal("500.00"),
            weekly_hours=[{"weekday": d, "start": "00:00", "end": "23:45"} for d in range(7)],
        )
        patient = commands.patient_register(actor=None, name="Asha Policy", phone="98200 33445")
        slot = free_slots(doctor, timezone.now().date() + timedelta(days=1))[0]
        visit = commands.appointment_book(
            actor=None, doctor=doctor, patient=patient, start=slot.start
        )
        billing.payment_take(
            actor=None, appointment=visit, kind="deposit", amount=Decimal("100.00"), method="cash"
        )
        staff_create(
            actor=None,
            name="Desk",
            email=DESK,
            password=PASSWORD,
            role="receptionist",
            branches=[branch],
        )
        return {
            "branch": branch.pk,
            "visit": visit.pk,
            "patient": patient.pk,
            "owner": f"owner@{committed_tenant.slug}.example.com",
        }


@pytest.fixture(scope="module")
def browser(
    committed_tenant: Tenant, clinic: dict[str, Any], django_db_blocker: Any
) -> Iterator[tuple[Browser, str, int]]:
    with django_db_blocker.unblock(), chromium_and_server() as (chromium, port):
        yield chromium, f"http://{committed_tenant.slug}.localhost:{port}", port


def signed_in(chromium: Browser, base: str, email: str, password: str) -> Page:
    page = chromium.new_context().new_page()
    page.add_init_script(WATCH)
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")
    return page


def violations_on(page: Page, url: str) -> list[str]:
    page.goto(url)
    page.wait_for_load_state("load")  # not "networkidle": the board keeps its event stream open
    page.wait_for_timeout(300)  # scripts that run after load (htmx, the admin's) have run
    found: list[str] = page.evaluate("window.__violations")
    return found


def test_no_page_breaks_the_content_security_policy(
    browser: tuple[Browser, str, int], clinic: dict[str, Any]
) -> None:
    chromium, base, port = browser
    desk = signed_in(chromium, base, DESK, PASSWORD)
    owner = signed_in(chromium, base, clinic["owner"], OWNER_PASSWORD)
    public = chromium.new_context().new_page()
    public.add_init_script(WATCH)
    b, v, p = clinic["branch"], clinic["visit"], clinic["patient"]
    pages = {
        desk: [
            f"/reception/branches/{b}/",
            f"/reception/branches/{b}/calendar/?view=week",
            f"/reception/branches/{b}/patients/{p}/",
            f"/reception/branches/{b}/appointments/{v}/",
            f"/reception/branches/{b}/appointments/{v}/pay/",
            f"/reception/appointments/{v}/invoice/",
            f"/reception/branches/{b}/book/?patient={p}",
            f"/reception/branches/{b}/declare/",
            "/account/password/",
        ],
        owner: [
            "/setup/",
            "/setup/doctors/new/",
            "/setup/billing/",
            "/admin/",
            "/admin/scheduling/appointment/",
            "/admin/reconciliation/dailyclose/",
            "/admin/audit/auditentry/",
            "/api/v1/docs/",
        ],
    }
    problems = {}
    for page, paths in pages.items():
        for path in paths:
            if found := violations_on(page, f"{base}{path}"):
                problems[path] = found
    for url in (f"http://localhost:{port}/signup/", f"http://localhost:{port}/api/v1/docs/"):
        if found := violations_on(public, url):
            problems[url] = found

    assert problems == {}
