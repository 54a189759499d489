"""A chain manager's morning in the admin, in real Chromium: the branded index with only
their screens, today's appointments on the clinic's clock, the daily closes up to today with
the variance spelled out, the month, and the audit trail newest first with names.

Screenshots go to artifacts/screenshots/admin-*.png (not committed).
"""

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from apps.billing import commands as billing
from apps.clinic.commands import staff_create
from apps.clinic.models import Branch
from apps.core import clinictime
from apps.reconciliation import commands as recon
from apps.reconciliation.compute import close_days
from apps.scheduling import commands
from apps.scheduling.slots import free_slots
from apps.tenants.models import Tenant
from tests.browser.chromium import SHOTS, needs_chromium, tenant_site

PASSWORD = "chain-manager-password-1"
MANAGER = "meera@chain.example.com"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), needs_chromium]


@pytest.fixture(scope="module")
def morning(
    ten_oclock: dict[str, str], committed_tenant: Tenant, django_db_blocker: Any
) -> dict[str, Any]:
    """Yesterday and today of a branch: visits, money, a short cash count; a manager."""
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        branch = Branch.objects.get()
        doctor = commands.doctor_add(
            actor=None,
            branch=branch,
            name="Dr. Neha Joshi",
            specialty="General medicine",
            slot_minutes=15,
            consultation_fee=Decimal("1500.00"),
            weekly_hours=[{"weekday": d, "start": "00:00", "end": "23:45"} for d in range(7)],
        )
        today = timezone.now().astimezone(clinictime.zone(branch.timezone)).date()
        slots = free_slots(doctor, today)[:2]
        visits = []
        for n, slot in enumerate(slots):
            patient = commands.patient_register(
                actor=None, name=f"Asha Verma {n + 1}", phone=f"98200 1122{n}", branch=branch
            )
            visits.append(
                commands.appointment_book(
                    actor=None, doctor=doctor, patient=patient, start=slot.start
                )
            )
        paid = billing.payment_take(
            actor=None,
            appointment=visits[0],
            kind="deposit",
            amount=Decimal("1500.00"),
            method="upi",
        )
        recon.declaration_make(
            actor=None, branch=branch, day=today, method="upi", amount=Decimal("1450.00")
        )
        close_days(today - timedelta(days=3), today + timedelta(days=10), {branch.pk})
        staff_create(
            actor=None, name="Meera Iyer", email=MANAGER, password=PASSWORD, role="manager"
        )
        return {
            "today": clinictime.format_date(today),
            "tomorrow": clinictime.format_date(today + timedelta(days=1)),
            "first_visit": clinictime.format_datetime(slots[0].start, branch.timezone),
            "paid_at": clinictime.format_datetime(paid.received, branch.timezone),
            "branch": branch.name,
            "clinic": committed_tenant.name,
        }


@pytest.fixture(scope="module")
def browser(
    committed_tenant: Tenant,
    morning: dict[str, Any],
    ten_oclock: dict[str, str],
    django_db_blocker: Any,
) -> Iterator[tuple[Browser, str]]:
    with tenant_site(committed_tenant, django_db_blocker, **ten_oclock) as site:
        yield site


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"admin-{name}.png"), full_page=True)


def test_a_chain_managers_morning_in_the_admin(
    browser: tuple[Browser, str], morning: dict[str, Any]
) -> None:
    chromium, base = browser
    page = chromium.new_context(viewport={"width": 1366, "height": 800}).new_page()

    page.goto(f"{base}/admin/login/?next=/admin/")
    expect(page.locator("#site-name")).to_have_text(f"MyMedic · {morning['clinic']}")
    page.locator("#id_username").fill(MANAGER)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # The index: branded, only the manager's screens.
    expect(page.locator("#site-name")).to_have_text(f"MyMedic · {morning['clinic']}")
    expect(page.get_by_role("link", name="Appointments", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Daily closes", exact=True)).to_be_visible()
    for hidden in ("Events", "Groups", "Tokens", "Projection states"):
        expect(page.get_by_role("link", name=hidden, exact=True)).to_have_count(0)
    expect(page.get_by_text("Django administration")).to_have_count(0)
    shot(page, "01-index")

    # Today's appointments, on the clinic's clock, with the patients' names.
    page.get_by_role("link", name="Today's appointments").click()
    expect(page.get_by_text(morning["first_visit"])).to_be_visible()
    expect(page.get_by_text("Asha Verma 1")).to_be_visible()
    shot(page, "02-appointments-today")

    # The daily closes: up to today, newest first, the short count spelled out in colour.
    page.goto(f"{base}/admin/reconciliation/dailyclose/")
    rows = page.locator("#result_list tbody tr")
    expect(rows.first).to_contain_text(morning["today"])
    expect(rows.first.locator(".variance-short")).to_have_text("UPI: short by ₹50.00")
    expect(page.get_by_text(morning["tomorrow"])).to_have_count(0)
    expect(rows).to_have_count(4)
    shot(page, "03-daily-closes")
    rows.first.locator("th a").click()
    table = page.locator("table.money-by-method")
    expect(table).to_contain_text("₹1,500.00")
    expect(table).to_contain_text("₹1,450.00")
    expect(page.get_by_text("position", exact=False)).to_have_count(0)
    shot(page, "04-daily-close")

    # The month by branch.
    page.goto(f"{base}/admin/reconciliation/dailyclose/month/")
    expect(page.get_by_role("cell", name=morning["branch"])).to_be_visible()
    expect(page.locator("svg[role=img]")).to_have_count(2)
    shot(page, "05-month")

    # Money and people: payments in clinic time and one spelling, doctors' hours, patients.
    page.goto(f"{base}/admin/billing/payment/")
    payment = page.locator("#result_list tbody tr").first
    expect(payment).to_contain_text(morning["paid_at"])
    expect(payment).to_contain_text("₹1,500.00")
    expect(payment).to_contain_text("UPI")
    shot(page, "06-payments")
    page.goto(f"{base}/admin/scheduling/doctor/")
    expect(page.locator("#result_list")).to_contain_text("Mon 00:00–23:45")
    expect(page.locator("#result_list")).to_contain_text("₹1,500.00")
    shot(page, "07-doctors")
    page.goto(f"{base}/admin/scheduling/patient/")
    expect(page.locator("#result_list")).to_contain_text("Asha Verma 2")
    expect(page.locator("#result_list")).to_contain_text("••••••1221")
    expect(page.locator("#result_list")).not_to_contain_text("98200")
    shot(page, "08-patients")

    # The audit trail: newest first, with names; her own sign-in is the newest change.
    page.goto(f"{base}/admin/audit/auditentry/")
    first = page.locator("#result_list tbody tr").first
    expect(first).to_contain_text("Meera Iyer")
    expect(first).to_contain_text("Signed in")
    expect(page.get_by_text("Listed patients")).to_have_count(1)  # only in the filter list
    expect(page.locator("#result_list")).not_to_contain_text("Listed patients")
    shot(page, "09-audit")
    page.get_by_role("link", name="Patient-data reads by person and day").click()
    expect(page.locator("#reads")).to_contain_text("Meera Iyer")
    expect(page.locator("#reads")).to_contain_text("Listed patients")
    shot(page, "10-audit-reads")
