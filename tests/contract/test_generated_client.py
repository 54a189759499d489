"""A Python client generated from the live OpenAPI document (openapi-python-client, as a
mobile developer would make one) books and runs a whole reception visit through its own
functions and models: no hand-written HTTP. If the document misdescribes a request or an
answer, the generated client cannot make the call or cannot read what comes back."""

import importlib
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from apps.tenants.models import Tenant
from tests import servers
from tests.conftest import OWNER_PASSWORD

pytestmark = pytest.mark.slow

PACKAGE = "mymedic_client"
# No post-hooks: the generator would otherwise run ruff over the code it wrote.
CONFIG = (
    f"project_name_override: mymedic-client\npackage_name_override: {PACKAGE}\npost_hooks: []\n"
)
# Zones with a clinic day somewhere at any hour: the journey checks a visit in on its own day.
ZONES = ["Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland", "Pacific/Honolulu",
         "America/Los_Angeles", "America/New_York", "America/Sao_Paulo", "Europe/London",
         "Asia/Dubai"]  # fmt: skip


def office_hours_zone() -> str:
    """A zone where it is now between 09:00 and 17:00, so that a slot today is near."""
    return next(z for z in ZONES if 9 <= datetime.now(ZoneInfo(z)).hour < 17)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with servers.asgi_server() as port:
        yield port


@pytest.fixture(scope="module")
def client_package(port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The client generated from the document the server serves, imported."""
    where = tmp_path_factory.mktemp("client")
    (where / "config.yaml").write_text(CONFIG)
    generator = Path(sys.executable).with_name("openapi-python-client")
    subprocess.run(
        [str(generator), "generate", "--url",
         f"http://localhost:{port}/api/v1/schema/?format=json",
         "--output-path", str(where / "out"), "--config", str(where / "config.yaml")],
        check=True, timeout=180, capture_output=True,
    )  # fmt: skip
    sys.path.insert(0, str(where / "out"))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where / "out"))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def api(tag: str, operation: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{operation}")


def test_a_generated_client_books_checks_in_pays_refunds_and_moves_visits(
    client_package: Any, port: int, committed_tenant: Tenant
) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    host = {"Host": f"{committed_tenant.slug}.localhost"}
    base = f"http://127.0.0.1:{port}"
    with client_package.Client(base_url=base, headers=host) as anonymous:
        signed_in = api("auth", "auth_token_create").sync(
            client=anonymous,
            body=models.TokenRequestRequest(
                username=f"owner@{committed_tenant.slug}.example.com", password=OWNER_PASSWORD
            ),
        )
    assert signed_in.role == "owner"
    desk = client_package.AuthenticatedClient(
        base_url=base, token=signed_in.token, prefix="Token", headers=host
    )
    with desk:
        journey(models, desk)


def journey(models: Any, desk: Any) -> None:
    """Branch, doctor, patient, slots, book, check in, pay, refund, invoice; then a second
    visit booked, moved and cancelled."""
    zone = office_hours_zone()
    branch = api("branches", "branches_create").sync(
        client=desk,
        body=models.BranchRequest(name="Baner", city="Pune", timezone=models.TimezoneEnum(zone)),
    )
    assert (branch.name, branch.timezone) == ("Baner", zone)

    hours = [models.WeeklyHoursItemRequest(weekday=day, start="06:00", end="22:00")
             for day in range(7)]  # fmt: skip
    doctor = api("doctors", "doctors_create").sync(
        client=desk,
        body=models.DoctorRequest(
            name="Dr. Neha Joshi", branch=branch.id, specialty="General", slot_minutes=30,
            consultation_fee="500.00", weekly_hours=hours,
        ),
    )  # fmt: skip
    assert doctor.consultation_fee == "500.00" and doctor.position > 0

    patient = api("patients", "patients_create").sync(
        client=desk, body=models.PatientRegisterRequest(name="Asha Rao", phone="+919812345678")
    )
    assert (patient.name, patient.phone, patient.email) == ("Asha Rao", "+919812345678", None)

    today = datetime.now(ZoneInfo(zone)).date()
    slots = api("doctors", "doctors_slots_list").sync(doctor.id, client=desk, date=today)
    soonest = next(slot for slot in slots if slot.start > datetime.now(ZoneInfo(zone)))
    book = api("appointments", "appointments_create")
    visit = book.sync(
        client=desk,
        body=models.BookRequest(doctor=doctor.id, patient=patient.id, start=soonest.start),
    )
    assert (visit.status, visit.start, visit.branch) == (
        models.AppointmentStatusEnum.BOOKED,
        soonest.start,
        branch.id,
    )

    checked_in = api("appointments", "appointments_check_in_create").sync(visit.id, client=desk)
    assert checked_in.status == models.AppointmentStatusEnum.CHECKED_IN

    payment = api("billing", "appointments_payments_create").sync(
        visit.id,
        client=desk,
        body=models.PaymentRequestRequest(
            kind=models.PaymentKindEnum.BALANCE, amount="500.00",
            method=models.PaymentMethodEnum.UPI,
        ),
    )  # fmt: skip
    assert (payment.amount, payment.method) == ("500.00", models.PaymentMethodEnum.UPI)

    refund = api("billing", "payments_refunds_create").sync(
        payment.id,
        client=desk,
        body=models.RefundRequestRequest(amount="100.00", reason="Dressing not needed"),
    )
    assert (refund.amount, refund.payment) == ("100.00", payment.id)

    invoice = api("billing", "appointments_invoice_retrieve").sync(visit.id, client=desk)
    assert (invoice.total, invoice.paid, invoice.refunded, invoice.balance_due) == (
        "500.00",
        "500.00",
        "100.00",
        "100.00",
    )
    assert [line.amount for line in invoice.payments] == ["500.00"]

    tomorrow = today + timedelta(days=1)
    later = api("doctors", "doctors_slots_list").sync(doctor.id, client=desk, date=tomorrow)
    second = book.sync(
        client=desk,
        body=models.BookRequest(doctor=doctor.id, patient=patient.id, start=later[0].start),
    )
    moved = api("appointments", "appointments_reschedule_create").sync(
        second.id, client=desk, body=models.StartRequest(start=later[1].start)
    )
    assert (moved.id, moved.start, moved.status) == (
        second.id,
        later[1].start,
        models.AppointmentStatusEnum.BOOKED,
    )
    cancelled = api("appointments", "appointments_cancel_create").sync(
        second.id, client=desk, body=models.CancelRequest(reason="Travelling")
    )
    assert (cancelled.status, cancelled.cancel_reason) == (
        models.AppointmentStatusEnum.CANCELLED,
        "Travelling",
    )
