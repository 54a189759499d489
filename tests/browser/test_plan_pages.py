"""The owner's plan pages in real Chromium: a console page of a module outside the plan says
so and what the module adds (402), and the subscription page shows the plan, this month's
usage against the plan's limits and the modules.

Screenshots go to artifacts/screenshots/plans-*.png (not committed).
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from apps.clinic.models import Branch
from apps.core.db import connection
from apps.eventstore.projections import catch_up
from apps.plans.models import Plan, Subscription
from apps.scheduling import commands
from apps.tenants.models import Tenant
from tests.browser.chromium import SHOTS, needs_chromium, tenant_site
from tests.browser.desk import open_all_day_doctor
from tests.browser.test_accessibility import (
    HTML_LANG,
    choose_language,
    serious_violations,
    sign_in,
)
from tests.browser.test_reception_day import shot
from tests.conftest import OWNER_PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), needs_chromium]


@pytest.fixture
def clinic_on_its_plan(committed_tenant: Tenant, django_db_blocker: Any) -> Iterator[int]:
    """The clinic, past its trial, on the Clinic plan (no reconciliation), with a doctor and
    two bookings this month; its branch's id."""
    with django_db_blocker.unblock():
        with schema_context(committed_tenant.schema_name):
            branch = Branch.objects.get()
            doctor = open_all_day_doctor(branch, "Dr. Leela Menon", "500.00")
            for days in (1, 2):
                patient = commands.patient_register(
                    actor=None, name=f"Plan Patient {days}", phone=f"98200 1100{days}"
                )
                commands.appointment_book(
                    actor=None,
                    doctor=doctor,
                    patient=patient,
                    start=(timezone.now() + timedelta(days=days)).replace(
                        minute=0, second=0, microsecond=0
                    ),
                )
            catch_up()
        connection.set_schema_to_public()
        Subscription.objects.filter(tenant=committed_tenant).update(
            plan=Plan.objects.get(slug="clinic"), status="active", due_at=None
        )
        yield branch.pk
        Subscription.objects.filter(tenant=committed_tenant).update(status="trial")


def test_the_not_in_your_plan_page_and_the_subscription_page(
    committed_tenant: Tenant, clinic_on_its_plan: int, django_db_blocker: Any
) -> None:
    with tenant_site(committed_tenant, django_db_blocker) as (chromium, base):
        page = chromium.new_context(viewport={"width": 1366, "height": 768}).new_page()
        page.goto(f"{base}/login/")
        page.get_by_label("Email").fill(f"owner@{committed_tenant.slug}.example.com")
        page.get_by_label("Password").fill(OWNER_PASSWORD)
        page.get_by_role("button", name="Sign in").click()

        response = page.goto(f"{base}/reception/branches/{clinic_on_its_plan}/declare/")
        assert response is not None and response.status == 402
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Reconciliation and analytics is not in your plan"
        )
        expect(page.locator(".not-in-plan")).to_contain_text("Day-end cash and settlement counts")
        expect(page.locator(".not-in-plan")).to_contain_text("Included in: Chain, Hospital.")
        shot(page, "plans-not-in-your-plan")

        page.get_by_role("link", name="your subscription").click()
        expect(page.get_by_role("heading", name="Clinic plan")).to_be_visible()
        usage = page.locator("table.lines")
        expect(usage.get_by_role("row", name="Bookings")).to_contain_text("2")
        expect(usage.get_by_role("row", name="Active doctors")).to_contain_text("15")
        expect(page.locator(".plain-list")).to_contain_text(
            "Reconciliation and analytics — not in your plan"
        )
        shot(page, "plans-subscription")


def test_the_not_in_your_plan_page_in_hindi_and_english_has_no_serious_violation(
    committed_tenant: Tenant, clinic_on_its_plan: int, django_db_blocker: Any
) -> None:
    """The 402 page is no URL of its own (the sweep of `tests/browser/pages.py` never meets
    it): the owner reads it in both languages, switching with the page's own switch, and
    axe-core finds nothing serious. Screenshots: console-not-in-plan-<en|hi>.png."""
    with tenant_site(committed_tenant, django_db_blocker) as (chromium, base):
        context = chromium.new_context(viewport={"width": 1366, "height": 768}, bypass_csp=True)
        page = context.new_page()
        sign_in(page, base, f"owner@{committed_tenant.slug}.example.com", OWNER_PASSWORD)
        seen: dict[str, list[str]] = {}
        for language, heading in (
            ("en", "Reconciliation and analytics is not in your plan"),
            ("hi", "मिलान और विश्लेषण आपके प्लान में नहीं है"),
        ):
            response = page.goto(f"{base}/reception/branches/{clinic_on_its_plan}/declare/")
            assert response is not None and response.status == 402
            if page.locator("html").get_attribute("lang") != HTML_LANG[language]:
                choose_language(page, language)
            expect(page.get_by_role("heading", level=1)).to_have_text(heading)
            page.screenshot(path=str(SHOTS / f"console-not-in-plan-{language}.png"), full_page=True)
            seen[language] = serious_violations(page)
        expect(page.locator(".not-in-plan")).to_contain_text("इनमें शामिल: चेन, अस्पताल.")
        expect(page.locator(".not-in-plan")).to_contain_text("दिन के अंत में नकद")
        page.get_by_role("link", name="अपनी सदस्यता").click()
        expect(page.get_by_role("heading", name="क्लिनिक प्लान")).to_be_visible()
        expect(page.locator(".plain-list")).to_contain_text("मिलान और विश्लेषण — आपके प्लान में नहीं")
        page.screenshot(path=str(SHOTS / "console-subscription-plan-hi.png"), full_page=True)
        context.close()

    assert seen == {"en": [], "hi": []}
