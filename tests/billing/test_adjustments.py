"""Discounts, concessions, credit notes and overpayment refunds through the API, with figures
computed by hand; every refusal leaves the ledger as it was."""

from decimal import Decimal
from typing import Any

import pytest

from apps.billing import commands as billing
from apps.billing.models import (
    BillingSettings,
    BranchTakings,
    Invoice,
    InvoiceAdjustment,
    Payment,
    Refund,
)
from apps.billing.projections import takings
from apps.clinic.models import Branch, Role
from apps.eventstore import replay
from apps.eventstore.models import Event
from apps.eventstore.projections import catch_up
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Patient
from apps.tenants.models import Tenant
from tests.billing.conftest import pay
from tests.clinic.factories import UserFactory
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import DoctorFactory

FIELDS = ("total", "tax", "paid", "refunded", "balance_due", "overpaid")


@pytest.fixture
def visit_600(main_branch: Branch, patient: Patient) -> Appointment:
    doctor = DoctorFactory(branch=main_branch, consultation_fee=Decimal("600.00"))
    return commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))


@pytest.fixture
def receptionist(tenant: Tenant, main_branch: Branch) -> HostClient:
    return client_for(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]), tenant)


def invoice_of(client: HostClient, appointment: Appointment) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/api/v1/appointments/{appointment.pk}/invoice/").json()
    return body


def figures(invoice: dict[str, Any]) -> dict[str, str]:
    return {key: invoice[key] for key in FIELDS}


def refund(client: HostClient, payment_id: int, **body: Any) -> Any:
    return client.post(f"/api/v1/payments/{payment_id}/refunds/", body, format="json")


def discount(client: HostClient, invoice_id: int, **body: Any) -> Any:
    return client.post(f"/api/v1/invoices/{invoice_id}/discounts/", body, format="json")


def ledger_rows() -> tuple[int, int, int, int]:
    return (
        Payment.objects.count(),
        Refund.objects.count(),
        InvoiceAdjustment.objects.count(),
        Event.objects.count(),
    )


def test_a_senior_citizen_concession_with_money_back_leaves_nothing_due(
    desk: HostClient, visit_600: Appointment
) -> None:
    paid = pay(desk, visit_600.pk, "600.00", kind="balance").json()

    response = refund(
        desk,
        paid["id"],
        kind="concession",
        category="senior_citizen",
        amount="100.00",
        reason="Senior citizen",
    )
    invoice = invoice_of(desk, visit_600)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["amount"], body["method"]) == ("concession", "100.00", "cash")
    assert figures(invoice) == {
        "total": "500.00",
        "tax": "0.00",
        "paid": "600.00",
        "refunded": "100.00",
        "balance_due": "0.00",
        "overpaid": "0.00",
    }
    assert invoice["lines"][-1] == {
        "kind": "discount",
        "description": "Senior citizen discount",
        "rate": "",
        "amount": "-100.00",
    }
    assert [(a["category"], a["total_reduction"]) for a in invoice["adjustments"]] == [
        ("senior_citizen", "100.00")
    ]
    types = list(Event.objects.order_by("position").values_list("type", flat=True))[-3:]
    assert types == ["DiscountGranted", "InvoiceAdjusted", "ConcessionRefunded"]
    assert body["position"] == Event.objects.get(type="ConcessionRefunded").position


def test_a_plain_refund_still_leaves_the_refunded_amount_owed(
    desk: HostClient, visit_600: Appointment
) -> None:
    paid = pay(desk, visit_600.pk, "600.00", kind="balance").json()

    response = refund(desk, paid["id"], amount="100.00", reason="Changed mind")

    assert response.json()["kind"] == "refund"
    assert invoice_of(desk, visit_600)["balance_due"] == "100.00"
    assert Event.objects.filter(type="RefundIssued").count() == 1


def test_a_concession_when_nothing_was_overpaid_is_refused_and_changes_nothing(
    desk: HostClient, visit_600: Appointment
) -> None:
    deposit = pay(desk, visit_600.pk, "200.00").json()
    before = ledger_rows()

    response = refund(
        desk, deposit["id"], kind="concession", category="hardship", amount="100.00", reason="x"
    )

    assert response.status_code == 409
    assert "give the concession as a discount" in response.json()["detail"]
    assert ledger_rows() == before
    assert invoice_of(desk, visit_600)["total"] == "600.00"


def test_receptionists_are_held_to_the_tenants_cap_and_managers_are_not(
    desk: HostClient, receptionist: HostClient, visit_600: Appointment
) -> None:
    pay(desk, visit_600.pk, "100.00")
    invoice_id = Invoice.objects.get().pk

    # 20 % (the default cap) of 600.00 is 120.00, all discounts of the bill together.
    over = discount(receptionist, invoice_id, category="staff", amount="120.01", reason="x")
    within = discount(receptionist, invoice_id, category="staff", amount="80.00", reason="x")
    beyond = discount(receptionist, invoice_id, category="staff", percent="10", reason="x")
    manager = discount(desk, invoice_id, category="hardship", amount="300.00", reason="x")

    assert over.status_code == 409
    assert over.json()["detail"].startswith("A receptionist may take at most 20% off a bill")
    assert "₹120.00" in over.json()["detail"]
    assert within.status_code == 201, within.content
    assert (within.json()["total_reduction"], within.json()["invoice_total"]) == (
        "80.00",
        "520.00",
    )
    assert beyond.status_code == 409  # 10 % of the 520.00 left is 52.00: 132.00 in all
    assert manager.status_code == 201
    assert invoice_of(desk, visit_600)["total"] == "220.00"


def test_the_cap_is_a_tenant_setting(
    receptionist: HostClient, desk: HostClient, visit_600: Appointment
) -> None:
    billing.receptionist_discount_cap_update(actor=None, percent=Decimal("25"))
    pay(desk, visit_600.pk, "100.00")

    response = discount(
        receptionist,
        Invoice.objects.get().pk,
        category="senior_citizen",
        percent="25",
        reason="x",
    )

    assert response.status_code == 201, response.content
    assert (response.json()["amount"], response.json()["invoice_total"]) == ("150.00", "450.00")


def test_a_doctor_may_not_discount(
    tenant: Tenant, main_branch: Branch, desk: HostClient, visit_600: Appointment
) -> None:
    pay(desk, visit_600.pk, "100.00")
    doctor = client_for(UserFactory(role=Role.DOCTOR, branches=[main_branch]), tenant)

    response = discount(
        doctor, Invoice.objects.get().pk, category="staff", amount="1.00", reason="x"
    )

    assert response.status_code == 403


def test_tax_is_charged_on_the_discounted_amount_of_a_taxed_line(
    desk: HostClient, main_branch: Branch, patient: Patient
) -> None:
    billing.tax_rule_add(actor=None, name="CGST", rate=Decimal("9"))
    billing.tax_rule_add(actor=None, name="SGST", rate=Decimal("9"))
    doctor = DoctorFactory(branch=main_branch, consultation_fee=Decimal("500.00"))
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))
    pay(desk, visit.pk, "590.00", kind="balance")

    response = discount(
        desk, Invoice.objects.get().pk, category="other", amount="100.00", reason="x"
    )
    invoice = invoice_of(desk, visit)

    # (500 − 100) × 9 % = 36.00 per tax; 400 + 72 = 472.00; 590 − 472 = 118.00 off.
    assert response.json()["total_reduction"] == "118.00"
    assert [(line["kind"], line["amount"]) for line in invoice["lines"]] == [
        ("fee", "500.00"),
        ("tax", "36.00"),
        ("tax", "36.00"),
        ("discount", "-100.00"),
    ]
    assert figures(invoice) == {
        "total": "472.00",
        "tax": "72.00",
        "paid": "590.00",
        "refunded": "0.00",
        "balance_due": "-118.00",
        "overpaid": "118.00",
    }


def test_an_overpayment_refund_pays_back_only_what_was_paid_beyond_the_bill(
    desk: HostClient, visit_600: Appointment
) -> None:
    paid = pay(desk, visit_600.pk, "600.00", kind="balance").json()
    discount(desk, Invoice.objects.get().pk, category="hardship", percent="25", reason="x")
    before = ledger_rows()

    too_much = refund(desk, paid["id"], kind="overpayment", amount="150.01", reason="x")
    unchanged = ledger_rows()
    exact = refund(desk, paid["id"], kind="overpayment", amount="150.00", reason="x")

    assert too_much.status_code == 409
    assert "Only ₹150.00 was paid beyond the bill" in too_much.json()["detail"]
    assert unchanged == before
    assert exact.status_code == 201
    assert exact.json()["kind"] == "overpayment"
    assert figures(invoice_of(desk, visit_600)) == {
        "total": "450.00",
        "tax": "0.00",
        "paid": "600.00",
        "refunded": "150.00",
        "balance_due": "0.00",
        "overpaid": "0.00",
    }
    assert Event.objects.filter(type="OverpaymentRefunded").count() == 1
    assert not Event.objects.filter(type="RefundIssued").exists()


def test_credit_notes_are_numbered_per_branch_and_reference_their_invoice(
    desk: HostClient, main_branch: Branch, patient: Patient
) -> None:
    doctor = DoctorFactory(branch=main_branch, consultation_fee=Decimal("500.00"))
    first, second = (
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, hour))
        for hour in (9, 10)
    )
    pay(desk, first.pk, "500.00", kind="balance")
    pay(desk, second.pk, "100.00")
    one, two = (Invoice.objects.get(appointment=visit) for visit in (first, second))

    a = desk.post(
        f"/api/v1/invoices/{one.pk}/lines/0/withdraw/", {"reason": "Not seen"}, format="json"
    )
    b = desk.post(
        f"/api/v1/invoices/{two.pk}/lines/0/withdraw/", {"reason": "Not seen"}, format="json"
    )
    again = desk.post(
        f"/api/v1/invoices/{two.pk}/lines/0/withdraw/", {"reason": "Not seen"}, format="json"
    )
    missing = desk.post(
        f"/api/v1/invoices/{two.pk}/lines/7/withdraw/", {"reason": "x"}, format="json"
    )

    assert (a.status_code, b.status_code) == (201, 201), (a.content, b.content)
    assert a.json()["number"] == f"CN{main_branch.pk}-000001"
    assert b.json()["number"] == f"CN{main_branch.pk}-000002"
    assert (a.json()["invoice"], a.json()["kind"], a.json()["total_reduction"]) == (
        one.pk,
        "credit_note",
        "500.00",
    )
    assert again.status_code == 409 and "already withdrawn" in again.json()["detail"]
    assert missing.status_code == 400 and "line" in missing.json()
    invoice = invoice_of(desk, first)
    assert invoice["lines"][0]["withdrawn"] == f"CN{main_branch.pk}-000001"
    assert (invoice["total"], invoice["balance_due"], invoice["overpaid"]) == (
        "0.00",
        "-500.00",
        "500.00",
    )
    paid = Payment.objects.get(appointment=first)
    back = refund(desk, paid.pk, kind="overpayment", amount="500.00", reason="Not seen")
    assert back.status_code == 201
    assert invoice_of(desk, first)["balance_due"] == "0.00"


def test_a_tax_line_cannot_be_withdrawn_on_its_own(
    desk: HostClient, main_branch: Branch, patient: Patient
) -> None:
    billing.tax_rule_add(actor=None, name="GST", rate=Decimal("18"))
    doctor = DoctorFactory(branch=main_branch, consultation_fee=Decimal("500.00"))
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))
    pay(desk, visit.pk, "100.00")

    response = desk.post(
        f"/api/v1/invoices/{Invoice.objects.get().pk}/lines/1/withdraw/",
        {"reason": "x"},
        format="json",
    )
    withdrawn = desk.post(
        f"/api/v1/invoices/{Invoice.objects.get().pk}/lines/0/withdraw/",
        {"reason": "x"},
        format="json",
    )

    assert response.status_code == 409
    assert withdrawn.json()["total_reduction"] == "590.00"  # the fee and its tax


@pytest.mark.parametrize(
    "body",
    [
        {"category": "staff", "amount": "-5.00", "reason": "x"},
        {"category": "staff", "amount": "99999999999999.00", "reason": "x"},
        {"category": "staff", "amount": "abc", "reason": "x"},
        {"category": "staff", "amount": "0.00", "reason": "x"},
        {"category": "staff", "percent": "150", "reason": "x"},
        {"category": "staff", "percent": "NaN", "reason": "x"},
        {"category": "staff", "amount": "5.00", "percent": "5", "reason": "x"},
        {"category": "staff", "reason": "x"},
        {"category": "withdrawn", "amount": "5.00", "reason": "x"},
        {"category": "bogus", "amount": "5.00", "reason": "x"},
        {"category": "staff", "amount": "5.00", "reason": ""},
        {"category": "staff", "amount": "5.001", "reason": "x"},
        {"category": "staff", "amount": "10000000.01", "reason": "x"},
    ],
)
def test_bad_discounts_are_400_and_change_nothing(
    desk: HostClient, visit_600: Appointment, body: dict[str, Any]
) -> None:
    pay(desk, visit_600.pk, "100.00")
    before = ledger_rows()

    response = discount(desk, Invoice.objects.get().pk, **body)

    assert response.status_code == 400, response.content
    assert ledger_rows() == before


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "concession", "amount": "10.00", "reason": "x"},
        {"kind": "overpayment", "amount": "-1", "reason": "x"},
        {"kind": "overpayment", "amount": "99999999999999.00", "reason": "x"},
        {"kind": "bogus", "amount": "1.00", "reason": "x"},
        {"kind": "concession", "category": "staff", "amount": "garbage", "reason": "x"},
        {"kind": "concession", "category": "staff", "amount": "1.00", "reason": ""},
    ],
)
def test_bad_refunds_are_400_and_change_nothing(
    desk: HostClient, visit_600: Appointment, body: dict[str, Any]
) -> None:
    paid = pay(desk, visit_600.pk, "600.00", kind="balance").json()
    before = ledger_rows()

    response = refund(desk, paid["id"], **body)

    assert response.status_code == 400, response.content
    assert ledger_rows() == before


def test_bad_withdrawals_are_400(desk: HostClient, visit_600: Appointment) -> None:
    pay(desk, visit_600.pk, "100.00")
    invoice_id = Invoice.objects.get().pk

    no_reason = desk.post(f"/api/v1/invoices/{invoice_id}/lines/0/withdraw/", {}, format="json")
    garbage = desk.post(
        f"/api/v1/invoices/{invoice_id}/lines/0/withdraw/", "x{", content_type="application/json"
    )

    assert (no_reason.status_code, garbage.status_code) == (400, 400)
    assert not InvoiceAdjustment.objects.exists()


def test_a_cancelled_visit_takes_no_discount(desk: HostClient, visit_600: Appointment) -> None:
    pay(desk, visit_600.pk, "100.00")
    commands.appointment_cancel(actor=None, appointment=visit_600, reason="x")

    response = discount(desk, Invoice.objects.get().pk, category="staff", amount="1.00", reason="x")

    assert response.status_code == 409


def test_takings_replay_to_the_same_rows_after_concessions_and_credit_notes(
    desk: HostClient, visit_600: Appointment
) -> None:
    paid = pay(desk, visit_600.pk, "600.00", kind="balance").json()
    refund(
        desk, paid["id"], kind="concession", category="senior_citizen", amount="100.00", reason="x"
    )
    desk.post(
        f"/api/v1/invoices/{Invoice.objects.get().pk}/lines/0/withdraw/",
        {"reason": "x"},
        format="json",
    )
    refund(desk, paid["id"], kind="overpayment", amount="500.00", reason="x")
    catch_up()

    board = desk.get(f"/api/v1/branches/{visit_600.branch_id}/board/?date=2027-01-04").json()

    assert board["takings"] == {"cash": "0.00"}
    live = list(BranchTakings.objects.values_list("branch_id", "date", "method", "amount"))
    replay.rebuild(takings)
    assert list(BranchTakings.objects.values_list("branch_id", "date", "method", "amount")) == live


def test_the_cap_is_set_in_the_admin_through_its_command(api: HostClient, owner: Any) -> None:
    api.force_login(owner)

    response = api.post(
        "/admin/billing/billingsettings/add/",
        {
            "cancellation_policy": "refund",
            "no_show_fee": "0.00",
            "no_show_deposit": "0.00",
            "receptionist_discount_cap": "30.00",
        },
    )

    assert response.status_code == 302, response.content.decode()[:500]
    assert BillingSettings.current().receptionist_discount_cap == Decimal("30.00")
    changed = Event.objects.filter(type="DiscountCapChanged").latest("position")
    assert changed.data["receptionist_percent"] == "30.00"
    assert changed.metadata["actor_id"] == owner.pk


def test_a_repeated_concession_with_the_same_key_pays_back_once(
    desk: HostClient, visit_600: Appointment
) -> None:
    paid = pay(desk, visit_600.pk, "600.00", kind="balance").json()
    body = {"kind": "concession", "category": "senior_citizen", "amount": "100.00", "reason": "60+"}

    first, second = (
        desk.post(
            f"/api/v1/payments/{paid['id']}/refunds/",
            body,
            format="json",
            HTTP_IDEMPOTENCY_KEY="concession-1",
        )
        for _ in range(2)
    )

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert (Refund.objects.count(), InvoiceAdjustment.objects.count()) == (1, 1)
    assert invoice_of(desk, visit_600)["balance_due"] == "0.00"
