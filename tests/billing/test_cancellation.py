"""A cancelled appointment's deposit follows the tenant's policy, and its event says so."""

from decimal import Decimal

import pytest

from apps.billing import commands as billing
from apps.billing.ledger import credit_of
from apps.billing.models import Invoice, Refund
from apps.eventstore.models import Event
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient
from tests.billing.conftest import pay
from tests.clock import ist
from tests.conftest import HostClient


@pytest.fixture
def deposited(desk: HostClient, doctor: Doctor, patient: Patient) -> Appointment:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    assert pay(desk, visit.pk, "200.00", method="upi").status_code == 201
    return visit


def cancel(desk: HostClient, visit: Appointment) -> dict[str, str]:
    response = desk.post(f"/api/v1/appointments/{visit.pk}/cancel/", {"reason": "x"}, format="json")
    assert response.status_code == 200, response.content
    return Event.objects.get(type="AppointmentCancelled", data__id=visit.pk).data["deposit"]


def invoice(desk: HostClient, visit: Appointment) -> dict[str, str]:
    return desk.get(f"/api/v1/appointments/{visit.pk}/invoice/").json()


def test_by_default_the_deposit_is_refunded_by_its_method(
    desk: HostClient, deposited: Appointment
) -> None:
    outcome = cancel(desk, deposited)

    assert outcome == {"policy": "refund", "amount": "200.00"}
    refund = Refund.objects.get()
    assert (refund.amount, refund.method) == (Decimal("200.00"), "upi")
    bill = invoice(desk, deposited)
    assert (bill["status"], bill["total"], bill["balance_due"]) == ("void", "0.00", "0.00")


def test_the_deposit_can_be_kept_as_credit_and_spent_later(
    desk: HostClient, deposited: Appointment, doctor: Doctor, patient: Patient
) -> None:
    billing.billing_settings_update(actor=None, cancellation_policy="credit")

    outcome = cancel(desk, deposited)

    assert outcome == {"policy": "credit", "amount": "200.00"}
    assert credit_of(patient.pk) == Decimal("200.00")
    nxt = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(6, 9))
    assert pay(desk, nxt.pk, "250.00", method="credit").status_code == 409  # more than the credit
    assert pay(desk, nxt.pk, "200.00", method="credit").status_code == 201
    assert credit_of(patient.pk) == Decimal("0.00")
    assert invoice(desk, nxt)["balance_due"] == "300.00"


def test_the_deposit_can_be_kept_as_a_cancellation_fee(
    desk: HostClient, deposited: Appointment
) -> None:
    billing.billing_settings_update(actor=None, cancellation_policy="fee")

    outcome = cancel(desk, deposited)

    assert outcome == {"policy": "fee", "amount": "200.00"}
    assert not Refund.objects.exists()
    bill = invoice(desk, deposited)
    assert (bill["status"], bill["total"], bill["paid"], bill["balance_due"]) == (
        "cancellation_fee",
        "200.00",
        "200.00",
        "0.00",
    )
    assert bill["lines"][0]["description"] == "Cancellation fee"


def test_a_cancellation_without_payments_says_so(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))

    assert cancel(desk, visit) == {"policy": "none", "amount": "0.00"}
    assert not Invoice.objects.exists()
    assert invoice(desk, visit)["status"] == "void"


def test_owners_set_the_policy_over_the_api(desk: HostClient) -> None:
    assert desk.get("/api/v1/billing/settings/").json() == {"cancellation_policy": "refund"}

    changed = desk.post("/api/v1/billing/settings/", {"cancellation_policy": "fee"}, format="json")
    refused = desk.post("/api/v1/billing/settings/", {"cancellation_policy": "keep"}, format="json")

    assert changed.status_code == 200
    assert changed.json()["cancellation_policy"] == "fee"
    assert refused.status_code == 400
    assert desk.get("/api/v1/billing/settings/").json() == {"cancellation_policy": "fee"}


def test_tax_rules_over_the_api(desk: HostClient) -> None:
    created = desk.post("/api/v1/billing/tax-rules/", {"name": "IGST", "rate": "18"}, format="json")
    too_high = desk.post("/api/v1/billing/tax-rules/", {"name": "X", "rate": "101"}, format="json")
    zero = desk.post("/api/v1/billing/tax-rules/", {"name": "X", "rate": "0"}, format="json")

    assert created.status_code == 201, created.content
    assert created.json()["rate"] == "18.00"
    assert (too_high.status_code, zero.status_code) == (400, 400)
    assert [r["name"] for r in desk.get("/api/v1/billing/tax-rules/").json()["results"]] == ["IGST"]
