"""The front desk's set-up and sign-in, shared by the browser tests of the desk."""

from collections.abc import Iterable
from decimal import Decimal

from playwright.sync_api import Page, expect

from apps.clinic.commands import staff_create
from apps.clinic.models import Branch
from apps.scheduling import commands
from apps.scheduling.models import Doctor

PASSWORD = "front-desk-password-1"


def open_all_day_doctor(branch: Branch, name: str, fee: str) -> Doctor:
    """A doctor with five-minute slots every day, all day: a free slot whenever a test runs."""
    return commands.doctor_add(
        actor=None,
        branch=branch,
        name=name,
        specialty="General medicine",
        slot_minutes=5,
        consultation_fee=Decimal(fee),
        weekly_hours=[{"weekday": d, "start": "00:00", "end": "23:55"} for d in range(7)],
    )


def receptionists(branch: Branch, emails: Iterable[str]) -> None:
    for email in emails:
        staff_create(
            actor=None,
            name=email.split("@")[0],
            email=email,
            password=PASSWORD,
            role="receptionist",
            branches=[branch],
        )


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Today", exact=False)).to_be_visible()
