"""axe-core in real Chromium over every page of a clinic's site (`tests/browser/pages.py`), in
English and in Hindi, and over the public sign-up form in both: no serious or critical
violation. Staff switch with the top bar's switch, signed-out visitors with the page's
"English | हिन्दी" choice.

axe-core comes from npm (`tests/browser/package.json`, installed by `scripts/local.sh setup`).
Each page is also photographed: artifacts/screenshots/console-<page>-<en|hi>.png.
"""

from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from apps.billing import commands as billing
from apps.billing.models import Invoice
from apps.clinic.commands import staff_create
from apps.clinic.models import Branch
from apps.queue import commands as queue
from apps.scheduling import commands
from apps.scheduling.slots import free_slots
from apps.tenants.models import Tenant
from tests.browser import pages
from tests.browser.chromium import SHOTS, needs_chromium, tenant_site
from tests.browser.desk import PASSWORD, signing_in_doctor
from tests.conftest import OWNER_PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900), needs_chromium]

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
LANGUAGES = ("en", "hi")
HTML_LANG = {"en": "en-IN", "hi": "hi"}
SWEEP = [
    pytest.param(page, language, id=f"{page.name}-{language}")
    for page in pages.PAGES
    for language in LANGUAGES
]
SERIOUS = ("serious", "critical")
STAFF = ("desk", "doctor", "owner")


@pytest.fixture(scope="module")
def seed(
    ten_oclock: dict[str, str], committed_tenant: Tenant, django_db_blocker: Any
) -> dict[str, Any]:
    """One branch with a doctor who signs in, a receptionist, a patient booked tomorrow (with
    a medicine on the bill and its GST documents issued), a visit checked in today (a token),
    and a display link in each language."""
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        branch = Branch.objects.get()
        zone = ZoneInfo(branch.timezone)
        doctor = signing_in_doctor(branch, "Sunil Verma", "sunil@example.com", "123456.00")
        queue.doctor_room_set(actor=None, doctor=doctor, room="7")
        staff_create(
            actor=None,
            name="Pooja Desk",
            email="pooja@example.com",
            password=PASSWORD,
            role="receptionist",
            branches=[branch],
        )
        patient = commands.patient_register(
            actor=None, name="Lakshmi Narayan", phone="98450 12345", branch=branch
        )
        tomorrow = timezone.now().astimezone(zone).date() + timedelta(days=1)
        visit = commands.appointment_book(
            actor=None,
            doctor=doctor,
            patient=patient,
            start=datetime.combine(tomorrow, time(10, 0), tzinfo=zone),
        )
        billing.gst_supplier_set(
            actor=None,
            legal_name="Narmada Health LLP",
            gstin="27AAPFU0939F1ZV",
            address="12 MG Road, Pune 411001",
        )
        billing.invoice_item_add(
            actor=None,
            appointment=visit,
            category="pharmacy",
            description="Paracetamol 650 mg, strip of 15",
            quantity=1,
            unit_price=Decimal("35.00"),
        )
        documents = billing.gst_documents_issue(
            actor=None, invoice=Invoice.objects.get(appointment=visit)
        )
        today = timezone.now().astimezone(zone).date()
        soon = next(
            s.start
            for s in free_slots(doctor, today)
            if s.start > timezone.now() + timedelta(minutes=10)
        )
        walk_in = commands.patient_register(
            actor=None, name="Imran Qureshi", phone="98450 67890", branch=branch
        )
        checked_in = commands.appointment_check_in(
            actor=None,
            appointment=commands.appointment_book(
                actor=None, doctor=doctor, patient=walk_in, start=soon
            ),
        )
        keys = {
            language: queue.display_link_create(
                actor=None, branch=branch, name=f"Hall {language}", language=language
            )[1]
            for language in LANGUAGES
        }
    return {
        "branch": branch.pk,
        "doctor": doctor.pk,
        "patient": patient.pk,
        "appointment": visit.pk,
        "checked_in": checked_in.pk,
        "gst_document": documents[0].pk,
        "display_keys": keys,
        "owner": f"owner@{committed_tenant.slug}.example.com",
    }


@pytest.fixture(scope="module")
def site(
    committed_tenant: Tenant,
    seed: dict[str, Any],
    ten_oclock: dict[str, str],
    django_db_blocker: Any,
) -> Iterator[tuple[Browser, str]]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `scripts/local.sh setup` installs axe-core (npm ci)")
    with tenant_site(committed_tenant, django_db_blocker, **ten_oclock) as opened:
        yield opened


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login/" not in url)


@pytest.fixture(scope="module")
def tab_of(site: tuple[Browser, str], seed: dict[str, Any]) -> Iterator[Callable[[str], Page]]:
    """One browser tab per kind of visitor, signed in as that visitor (axe is injected past
    the site's Content-Security-Policy, which rightly refuses inline scripts)."""
    chromium, base = site
    credentials = {
        "desk": ("pooja@example.com", PASSWORD),
        "doctor": ("sunil@example.com", PASSWORD),
        "owner": (seed["owner"], OWNER_PASSWORD),
    }
    opened: dict[str, Page] = {}

    def tab(who: str) -> Page:
        if who not in opened:
            context = chromium.new_context(viewport={"width": 1366, "height": 768}, bypass_csp=True)
            opened[who] = context.new_page()
            if who in credentials:
                sign_in(opened[who], base, *credentials[who])
        return opened[who]

    yield tab
    for page in opened.values():
        page.context.close()


def choose_language(page: Page, language: str) -> None:
    """Switches the signed-in member's language with the form every staff page carries."""
    choice = page.get_by_test_id("language-choice")
    choice.get_by_role("combobox").select_option(language)
    choice.get_by_role("button").click()
    expect(page.locator("html")).to_have_attribute("lang", HTML_LANG[language])


def choose_visitor_language(page: Page, language: str) -> None:
    """Switches a signed-out page's language with its "English | हिन्दी" choice."""
    choice = page.get_by_test_id("visitor-language-choice")
    choice.locator(f'button[value="{language}"]').click()
    expect(page.locator("html")).to_have_attribute("lang", HTML_LANG[language])


def serious_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    assert found["testEngine"]["name"] == "axe-core" and found["passes"], "axe did not run"
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in found["violations"]
        if v["impact"] in SERIOUS
    ]


@pytest.mark.parametrize(("listed", "language"), SWEEP)
def test_no_serious_or_critical_accessibility_violation(
    listed: pages.Page,
    language: str,
    site: tuple[Browser, str],
    seed: dict[str, Any],
    tab_of: Callable[[str], Page],
) -> None:
    _, base = site
    page = tab_of(listed.who)
    ids = {**seed, "display_key": seed["display_keys"][language]}
    response = page.goto(base + listed.path(ids))
    assert response is not None and response.ok, f"{listed.name}: {response and response.status}"
    if page.locator("html").get_attribute("lang") != HTML_LANG[language]:
        if listed.who in STAFF:
            choose_language(page, language)
        elif listed.who == "anyone":
            choose_visitor_language(page, language)
    expect(page.locator("html")).to_have_attribute("lang", HTML_LANG[language])
    page.screenshot(path=str(SHOTS / f"console-{listed.name}-{language}.png"), full_page=True)

    assert serious_violations(page) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_signup_form_has_no_serious_or_critical_accessibility_violation(
    language: str, site: tuple[Browser, str], tab_of: Callable[[str], Page]
) -> None:
    _, base = site
    page = tab_of("anyone")
    page.goto(f"http://localhost:{urlsplit(base).port}/signup/")
    if page.locator("html").get_attribute("lang") != HTML_LANG[language]:
        choose_visitor_language(page, language)
    expect(page.locator("html")).to_have_attribute("lang", HTML_LANG[language])
    page.screenshot(path=str(SHOTS / f"console-signup-{language}.png"), full_page=True)

    assert serious_violations(page) == []
