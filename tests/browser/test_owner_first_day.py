"""An owner from sign-up to the first booking, in real Chromium, with no JSON and no admin:
sign up on the public site, land signed in on set-up, edit the branch, add a doctor with a
split-day grid, invite a receptionist (who reads the email and sets a password), and the
receptionist books the first patient from the console.

Screenshots go to artifacts/screenshots/ (not committed).
"""

import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from playwright.sync_api import Page, expect, sync_playwright

from apps.clinic.models import Branch, User
from apps.scheduling.formats import human_date
from apps.scheduling.models import Appointment, Doctor
from apps.tenants.models import Tenant
from tests import servers
from tests.browser.chromium import CHROMIUM, FLAGS, SHOTS, needs_chromium

OWNER_PASSWORD = "sunrise-owner-pass-1"
DESK_PASSWORD = "sunrise-desk-pass-1"
IST = ZoneInfo("Asia/Kolkata")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(240),
    needs_chromium,
]


@pytest.fixture
def slug(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """The new clinic's address; the tenant the server makes is dropped afterwards."""
    name = f"first-{uuid.uuid4().hex[:8]}"
    yield name
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        tenant = Tenant.objects.filter(slug=name).first()
        if tenant is not None:
            tenant.delete(force_drop=True)


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def booking_day() -> datetime:
    """Today in Mumbai if the doctor still has slots left today, else the next working day."""
    day = datetime.now(IST)
    if day.weekday() < 6 and day.hour < 19:
        return day
    day += timedelta(days=1)
    while day.weekday() == 6:
        day += timedelta(days=1)
    return day


def read_invitation(mail_dir: Path, email: str, seconds: float = 30) -> str:
    """The invitation's link, once the worker has sent it (email leaves from a task)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for message in sorted(mail_dir.glob("*.log")):
            text = message.read_text()
            if f"To: {email}" in text and "invited" in text:
                found = re.search(r"(http://\S+/invitation/\S+/)", text)
                assert found, text
                return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no invitation to {email} in {mail_dir}")


def test_an_owner_from_signup_to_first_booking_with_no_json_and_no_admin(
    slug: str, tmp_path: Path, django_db_blocker: Any
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    day = booking_day()
    with (
        django_db_blocker.unblock(),
        servers.asgi_server(MYMEDIC_MAIL_DIR=str(tmp_path)) as port,
        servers.celery_worker(MYMEDIC_MAIL_DIR=str(tmp_path)),
        sync_playwright() as play,
    ):
        chromium = play.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            owner = chromium.new_context(viewport={"width": 1366, "height": 768}).new_page()
            owner.goto(f"http://localhost:{port}/signup/")
            owner.get_by_label("Clinic or hospital name").fill("Sunrise Clinic")
            owner.get_by_label("Web address").fill(slug)
            owner.get_by_label("Kind").select_option("clinic")
            owner.get_by_label("Your name").fill("Asha Rao")
            owner.get_by_label("Your email").fill("asha@sunrise.example.com")
            owner.get_by_label("Password").fill(OWNER_PASSWORD)
            shot(owner, "owner-01-signup")
            owner.get_by_role("button", name="Create my clinic").click()

            # Signed in on the clinic's own host, on the set-up checklist.
            expect(owner.get_by_role("heading", name="Set up Sunrise Clinic")).to_be_visible()
            assert owner.url == f"http://{slug}.localhost:{port}/setup/"
            expect(owner.get_by_text("Asha Rao (Owner)")).to_be_visible()
            shot(owner, "owner-02-setup-checklist")

            # The empty console offers the checklist, not "Book one".
            owner.get_by_role("link", name="Open the console").click()
            expect(owner.get_by_test_id("setup-checklist")).to_be_visible()
            expect(owner.get_by_text("Book one")).to_have_count(0)
            shot(owner, "owner-03-empty-board-checklist")

            owner.get_by_role("link", name="Review the branch").click()
            owner.get_by_label("Name").fill("Andheri West")
            owner.get_by_label("City").fill("Mumbai")
            owner.get_by_label("Address").fill("12 Link Road, Andheri West, Mumbai 400053")
            owner.get_by_label("Phone").fill("+91 22 2345 6789")
            owner.get_by_role("button", name="Save branch").click()
            expect(owner.get_by_text("Branch Andheri West saved.")).to_be_visible()

            owner.get_by_role("link", name="Doctors").click()
            owner.get_by_role("link", name="Add a doctor").click()
            owner.get_by_label("Name").fill("Dr. Neha Joshi")
            owner.get_by_label("Specialty").fill("General medicine")
            owner.get_by_label("Consultation fee (INR)").fill("500")
            owner.get_by_label("Slot length (minutes)").fill("15")
            owner.get_by_label("Monday from", exact=True).fill("09:00")
            owner.get_by_label("Monday to", exact=True).fill("13:00")
            owner.get_by_label("Monday from (2)").fill("17:00")
            owner.get_by_label("Monday to (2)").fill("20:00")
            owner.get_by_role("button", name="Copy Monday to Tuesday–Saturday").click()
            expect(owner.get_by_label("Saturday to (2)")).to_have_value("20:00")
            expect(owner.get_by_label("Sunday from", exact=True)).to_have_value("")
            expect(owner.get_by_label("Name")).to_have_value("Dr. Neha Joshi")
            shot(owner, "owner-04-doctor-hours-grid")
            # A typo that overlaps the lunch break is shown in the grid, nothing is saved.
            owner.get_by_label("Tuesday from (2)").fill("12:00")
            owner.get_by_role("button", name="Add doctor").click()
            expect(
                owner.get_by_text("Tuesday: this interval overlaps another one.")
            ).to_be_visible()
            shot(owner, "owner-05-doctor-hours-error")
            owner.get_by_label("Tuesday from (2)").fill("17:00")
            owner.get_by_role("button", name="Add doctor").click()
            expect(owner.get_by_text("Dr. Neha Joshi added.")).to_be_visible()
            shot(owner, "owner-06-doctors")

            owner.get_by_role("link", name="Staff").click()
            owner.get_by_label("Name").fill("Meena Desk")
            owner.get_by_label("Email").fill("meena@sunrise.example.com")
            owner.get_by_label("Role").select_option("receptionist")
            owner.get_by_label("Andheri West").check()
            owner.get_by_role("button", name="Send invitation").click()
            expect(
                owner.get_by_text("Invitation sent to meena@sunrise.example.com")
            ).to_be_visible()
            shot(owner, "owner-07-staff-invited")
            owner.get_by_role("link", name="Checklist").click()
            expect(owner.get_by_text("Ready to book.")).to_be_visible()
            shot(owner, "owner-08-checklist-done")

            # The receptionist follows the emailed link, sets a password, lands in the console.
            link = read_invitation(tmp_path, "meena@sunrise.example.com")
            assert link.startswith(f"http://{slug}.localhost:{port}/invitation/")
            desk = chromium.new_context(viewport={"width": 1366, "height": 768}).new_page()
            desk.goto(link)
            expect(desk.get_by_role("heading", name="Welcome, Meena Desk")).to_be_visible()
            desk.get_by_label("New password", exact=True).fill(DESK_PASSWORD)
            desk.get_by_label("New password confirmation").fill(DESK_PASSWORD)
            shot(desk, "desk-01-set-password")
            desk.get_by_role("button", name="Set password and sign in").click()
            expect(desk.get_by_role("heading", name="Today", exact=False)).to_be_visible()
            expect(desk.get_by_text("Book one")).to_be_visible()
            expect(desk.get_by_role("link", name="Set-up")).to_have_count(0)

            desk.get_by_role("link", name="Book one").click()
            desk.get_by_label("Patient's phone").fill("98200 11223")
            desk.get_by_role("button", name="Find").click()
            desk.get_by_label("Full name").fill("Kiran Rao")
            desk.get_by_label("Phone", exact=True).fill("98200 11223")
            desk.get_by_role("button", name="Register").click()
            expect(desk.get_by_role("heading", name="Book for Kiran Rao")).to_be_visible()
            desk.get_by_label("Date").fill(day.strftime("%Y-%m-%d"))
            desk.get_by_role("button", name="Show free slots").click()
            shot(desk, "desk-02-slots")
            first_slot = desk.locator("fieldset.slots button").first
            slot_time = first_slot.inner_text().strip()
            first_slot.click()
            expect(desk.get_by_role("status")).to_have_text(
                f"Booked Kiran Rao with Dr. Neha Joshi on {human_date(day.date())} at {slot_time}."
            )
            shot(desk, "desk-03-first-booking")
            if day.date() == datetime.now(IST).date():
                # The receipt prints the branch as the owner set it up, not "Main branch".
                desk.get_by_role("link", name="Receipt").first.click()
                expect(desk.get_by_test_id("branch-contact")).to_contain_text("+91 22 2345 6789")
                expect(desk.get_by_text("Main branch")).to_have_count(0)
                expect(desk.locator(".invoice-meta")).to_contain_text(slot_time)
                shot(desk, "desk-04-receipt")
        finally:
            chromium.close()

    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(slug=slug)
        with schema_context(tenant.schema_name):
            branch = Branch.objects.get()
            assert (branch.name, branch.phone) == ("Andheri West", "+91 22 2345 6789")
            doctor = Doctor.objects.get()
            assert len(doctor.weekly_hours) == 12
            assert {(h["start"], h["end"]) for h in doctor.weekly_hours} == {
                ("09:00", "13:00"),
                ("17:00", "20:00"),
            }
            assert sorted({h["weekday"] for h in doctor.weekly_hours}) == [0, 1, 2, 3, 4, 5]
            assert User.objects.get(email="meena@sunrise.example.com").has_usable_password()
            visit = Appointment.objects.get()
            assert visit.start.astimezone(IST).date() == day.date()
        connection.set_schema_to_public()


@pytest.fixture
def owner_clinic(committed_tenant: Tenant, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    from decimal import Decimal

    from apps.scheduling import commands
    from tests.conftest import OWNER_PASSWORD as PASSWORD

    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        branch = Branch.objects.get()
        doctor = commands.doctor_add(
            actor=None,
            branch=branch,
            name="Dr. Ravi Iyer",
            specialty="ENT",
            slot_minutes=15,
            consultation_fee=Decimal("400.00"),
            weekly_hours=[{"weekday": 0, "start": "10:00", "end": "12:00"}],
        )
    yield {
        "email": f"owner@{committed_tenant.slug}.example.com",
        "password": PASSWORD,
        "doctor": doctor.pk,
        "branch": branch.pk,
    }


def test_set_up_screens_leave_closures_billing_and_password_reset_in_a_browser(
    committed_tenant: Tenant, owner_clinic: dict[str, Any], django_db_blocker: Any
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with django_db_blocker.unblock(), servers.asgi_server() as port, sync_playwright() as play:
        chromium = play.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = chromium.new_context(viewport={"width": 1366, "height": 768}).new_page()
            base = f"http://{committed_tenant.slug}.localhost:{port}"
            page.goto(f"{base}/login/")
            page.get_by_label("Email").fill(owner_clinic["email"])
            page.get_by_label("Password").fill(owner_clinic["password"])
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("link", name="Set-up").click()

            page.get_by_role("link", name="Billing", exact=True).click()
            page.get_by_label("Name").fill("CGST")
            page.get_by_label("Rate (%)").fill("150")
            page.get_by_role("button", name="Add tax").click()
            expect(page.locator(".has-error")).to_contain_text("less than or equal to 100")
            shot(page, "setup-01-billing-error")
            page.get_by_label("Rate (%)").fill("9")
            page.get_by_role("button", name="Add tax").click()
            expect(page.get_by_test_id("tax-rules")).to_contain_text("CGST 9.00% — every branch")
            page.get_by_label("Keep it as the patient's credit").check()
            page.get_by_role("button", name="Save billing settings").click()
            expect(page.get_by_text("Billing settings saved.")).to_be_visible()
            shot(page, "setup-02-billing")

            page.goto(f"{base}/setup/doctors/{owner_clinic['doctor']}/leave/")
            page.get_by_label("First day off").fill("2027-02-03")
            page.get_by_label("Last day off").fill("2027-02-01")
            page.get_by_role("button", name="Add leave").click()
            expect(page.get_by_text("The last day off cannot be before the first.")).to_be_visible()
            page.get_by_label("Last day off").fill("2027-02-05")
            page.get_by_label("Reason").fill("Conference")
            page.get_by_role("button", name="Add leave").click()
            expect(page.locator("#leave-list")).to_contain_text("Conference")
            shot(page, "setup-03-leave")
            page.get_by_role("button", name="Remove leave from 3 Feb").click()  # htmx
            expect(page.locator("#leave-list")).to_contain_text("No leave planned.")

            page.goto(f"{base}/setup/branches/{owner_clinic['branch']}/closures/")
            page.get_by_label("Closed on").fill("2027-01-26")
            page.get_by_label("Reason").fill("Republic Day")
            page.get_by_role("button", name="Close this day").click()
            expect(page.locator("#closure-list")).to_contain_text("Republic Day")
            shot(page, "setup-04-closures")
            page.get_by_role("button", name="Reopen 26 Jan").click()  # htmx
            expect(page.locator("#closure-list")).to_contain_text("No closed days.")

            # Forgot password: the same answer for anyone, from a signed-out browser.
            guest = chromium.new_context(viewport={"width": 1366, "height": 768}).new_page()
            guest.goto(f"{base}/login/")
            guest.get_by_role("link", name="Forgot password?").click()
            guest.get_by_label("Email").fill("nobody@example.com")
            shot(guest, "reset-01-form")
            guest.get_by_role("button", name="Send the link").click()
            expect(guest.get_by_role("heading", name="Check your email")).to_be_visible()
            shot(guest, "reset-02-sent")

            # A mistyped clinic address.
            guest.goto(f"http://no-such-clinic.localhost:{port}/login/")
            expect(guest.get_by_role("heading", name="No clinic at this address")).to_be_visible()
            guest.get_by_role("link", name=f"http://localhost:{port}/", exact=True).click()
            expect(guest.get_by_role("heading", name="Start using MyMedic")).to_be_visible()
            guest.go_back()
            shot(guest, "unknown-host")
        finally:
            chromium.close()
