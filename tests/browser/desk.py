"""The front desk's set-up and sign-in, shared by the browser tests of the desk."""

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.clinic.commands import staff_create
from apps.clinic.models import Branch, User
from apps.scheduling import commands
from apps.scheduling.models import Doctor

PASSWORD = "front-desk-password-1"


def open_all_day_doctor(branch: Branch, name: str, fee: str, user: User | None = None) -> Doctor:
    """A doctor with five-minute slots every day, all day: a free slot whenever a test runs."""
    return commands.doctor_add(
        actor=None,
        branch=branch,
        name=name,
        specialty="General medicine",
        slot_minutes=5,
        consultation_fee=Decimal(fee),
        weekly_hours=[{"weekday": d, "start": "00:00", "end": "23:55"} for d in range(7)],
        user=user,
    )


def signing_in_doctor(branch: Branch, name: str, email: str, fee: str) -> Doctor:
    """An all-day doctor (`Dr. <name>`) who signs in to the console as `email` / PASSWORD."""
    user = staff_create(
        actor=None, name=name, email=email, password=PASSWORD, role="doctor", branches=[branch]
    )
    return open_all_day_doctor(branch, f"Dr. {name}", fee, user=user)


def visit_tomorrow(
    *, doctor: str, fee: str, desk: tuple[str, str], patient: tuple[str, str], at: time
) -> dict[str, int]:
    """In the current tenant's one branch: a doctor seeing 08:00-20:00 every day, a
    receptionist (name, email) who signs in with `PASSWORD`, and a patient (name, phone)
    booked with that doctor tomorrow at `at`; the ids the browser needs."""
    branch = Branch.objects.get()
    seeing = commands.doctor_add(
        actor=None,
        branch=branch,
        name=doctor,
        specialty="General medicine",
        slot_minutes=15,
        consultation_fee=Decimal(fee),
        weekly_hours=[{"weekday": d, "start": "08:00", "end": "20:00"} for d in range(7)],
    )
    staff_create(
        actor=None,
        name=desk[0],
        email=desk[1],
        password=PASSWORD,
        role="receptionist",
        branches=[branch],
    )
    person = commands.patient_register(actor=None, name=patient[0], phone=patient[1])
    zone = ZoneInfo(branch.timezone)
    tomorrow = timezone.now().astimezone(zone).date() + timedelta(days=1)
    appointment = commands.appointment_book(
        actor=None, doctor=seeing, patient=person, start=datetime.combine(tomorrow, at, tzinfo=zone)
    )
    return {"branch": branch.pk, "appointment": appointment.pk}


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
