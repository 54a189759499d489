"""Deposits, balances, refunds and invoices through the API; every refusal leaves the
ledger as it was."""

from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Sum

from apps.billing import commands as billing
from apps.billing.models import Invoice, Payment, Refund
from apps.clinic.models import Branch, Role
from apps.eventstore.models import Event
from apps.eventstore.projections import catch_up
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.tenants.models import Tenant
from tests.billing.conftest import pay
from tests.clinic.factories import BranchFactory, UserFactory
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import DoctorFactory


@pytest.fixture
def visit(doctor: Doctor, patient: Patient) -> Appointment:
    return commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))


def ledger_state() -> tuple[int, int, int, Decimal]:
    paid = Payment.objects.aggregate(s=Sum("amount"))["s"] or Decimal(0)
    return Invoice.objects.count(), Payment.objects.count(), Refund.objects.count(), paid


def test_a_deposit_then_the_balance_settle_the_invoice(
    desk: HostClient, visit: Appointment
) -> None:
    deposit = pay(desk, visit.pk, "200.00")
    balance = pay(desk, visit.pk, "300", kind="balance", method="upi")
    invoice = desk.get(f"/api/v1/appointments/{visit.pk}/invoice/").json()

    assert deposit.status_code == 201, deposit.content
    body = deposit.json()
    assert {k: body[k] for k in ("kind", "amount", "method")} == {
        "kind": "deposit",
        "amount": "200.00",
        "method": "cash",
    }
    assert body["position"] == Event.objects.get(type="PaymentTaken", data__id=body["id"]).position
    assert balance.status_code == 201
    assert invoice["number"] == f"B{visit.branch_id}-000001"
    fields = ("currency", "total", "tax", "paid", "refunded", "balance_due")
    assert {k: invoice[k] for k in fields} == {
        "currency": "INR",
        "total": "500.00",
        "tax": "0.00",
        "paid": "500.00",
        "refunded": "0.00",
        "balance_due": "0.00",
    }
    assert invoice["lines"] == [
        {"kind": "fee", "description": "Consultation", "rate": "", "amount": "500.00"}
    ]


def test_before_any_payment_the_invoice_is_a_draft(desk: HostClient, visit: Appointment) -> None:
    invoice = desk.get(f"/api/v1/appointments/{visit.pk}/invoice/").json()

    assert (invoice["number"], invoice["status"], invoice["balance_due"]) == (
        None,
        "draft",
        "500.00",
    )
    assert not Invoice.objects.exists()


def test_gst_lines_are_computed_per_line_and_rounded_to_the_paisa(
    desk: HostClient, main_branch: Branch, patient: Patient
) -> None:
    doctor = DoctorFactory(branch=main_branch, consultation_fee=Decimal("499.99"))
    billing.tax_rule_add(actor=None, name="CGST", rate=Decimal("9"))
    billing.tax_rule_add(actor=None, name="SGST", rate=Decimal("9"))
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))

    pay(desk, visit.pk, "100.00")
    invoice = desk.get(f"/api/v1/appointments/{visit.pk}/invoice/").json()

    assert [line["amount"] for line in invoice["lines"]] == ["499.99", "45.00", "45.00"]
    assert invoice["lines"][1]["description"] == "CGST @ 9%"
    assert (invoice["tax"], invoice["total"], invoice["balance_due"]) == (
        "90.00",
        "589.99",
        "489.99",
    )


def test_a_branch_with_its_own_tax_rules_uses_only_those(
    desk: HostClient, patient: Patient
) -> None:
    branch = BranchFactory(name="Dubai Marina", timezone="Asia/Dubai")
    doctor = DoctorFactory(branch=branch)
    billing.tax_rule_add(actor=None, name="CGST", rate=Decimal("9"))
    billing.tax_rule_add(actor=None, name="VAT", rate=Decimal("5"), branch=branch)
    visit = commands.appointment_book(
        actor=None,
        doctor=doctor,
        patient=patient,
        start=ist(5, 11, 30),  # 10:00 in Dubai
    )

    invoice = desk.get(f"/api/v1/appointments/{visit.pk}/invoice/").json()

    assert [line["description"] for line in invoice["lines"]] == ["Consultation", "VAT @ 5%"]
    assert invoice["total"] == "525.00"


def test_invoice_numbers_run_per_branch_without_gaps(
    desk: HostClient, doctor: Doctor, patient: Patient
) -> None:
    other_branch = BranchFactory()
    other_doctor = DoctorFactory(branch=other_branch)
    visits = [
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, h))
        for h in (9, 10, 11)
    ]
    elsewhere = commands.appointment_book(
        actor=None, doctor=other_doctor, patient=patient, start=ist(5, 9)
    )

    pay(desk, visits[0].pk, "100.00")
    refused = pay(desk, visits[1].pk, "900.00")  # over the balance: must not use a number
    pay(desk, visits[1].pk, "100.00")
    pay(desk, elsewhere.pk, "100.00")
    pay(desk, visits[2].pk, "100.00")

    assert refused.status_code == 409
    numbers = [Invoice.objects.get(appointment=v).number for v in visits]
    assert numbers == [f"B{doctor.branch_id}-00000{i}" for i in (1, 2, 3)]
    assert Invoice.objects.get(appointment=elsewhere).number == f"B{other_branch.pk}-000001"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "0.00"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "Infinity"}, "amount"),
        ({"amount": "10000000.01"}, "amount"),
        ({"amount": "99999999999999999999"}, "amount"),
        ({"amount": None}, "amount"),
        ({"kind": "tip"}, "kind"),
        ({"method": "cheque"}, "method"),
        ({"method": ""}, "method"),
    ],
)
def test_bad_payments_are_400_and_change_nothing(
    desk: HostClient, visit: Appointment, body: dict[str, Any], field: str
) -> None:
    before = ledger_state()

    response = pay(desk, visit.pk, **{"amount": "100.00", **body})

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert ledger_state() == before


def test_a_payment_without_fields_is_a_400(desk: HostClient, visit: Appointment) -> None:
    response = desk.post(f"/api/v1/appointments/{visit.pk}/payments/", {}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"kind", "amount", "method"}


def test_paying_more_than_is_due_is_a_409_and_changes_nothing(
    desk: HostClient, visit: Appointment
) -> None:
    pay(desk, visit.pk, "450.00")
    before = ledger_state()

    response = pay(desk, visit.pk, "50.01", kind="balance")

    assert response.status_code == 409
    assert "balance due" in response.json()["detail"]
    assert ledger_state() == before


def test_paying_for_a_cancelled_appointment_is_a_409(desk: HostClient, visit: Appointment) -> None:
    commands.appointment_cancel(actor=None, appointment=visit, reason="x")
    before = ledger_state()

    response = pay(desk, visit.pk, "100.00")

    assert response.status_code == 409
    assert ledger_state() == before


def test_partial_refunds_up_to_what_was_paid(desk: HostClient, visit: Appointment) -> None:
    payment_id = pay(desk, visit.pk, "300.00", method="card").json()["id"]
    url = f"/api/v1/payments/{payment_id}/refunds/"

    first = desk.post(url, {"amount": "100.00", "reason": "overcharged"}, format="json")
    rest = desk.post(url, {"amount": "200.00", "reason": "visit moved"}, format="json")
    before = ledger_state()
    over = desk.post(url, {"amount": "0.01", "reason": "again"}, format="json")

    assert first.status_code == 201, first.content
    assert {k: first.json()[k] for k in ("amount", "method")} == {
        "amount": "100.00",
        "method": "card",
    }
    assert first.json()["position"] > 0
    assert rest.status_code == 201
    assert over.status_code == 409
    assert ledger_state() == before
    invoice = desk.get(f"/api/v1/appointments/{visit.pk}/invoice/").json()
    assert (invoice["paid"], invoice["refunded"], invoice["balance_due"]) == (
        "300.00",
        "300.00",
        "500.00",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "-1.00", "reason": "x"},
        {"amount": "0.00", "reason": "x"},
        {"amount": "x", "reason": "x"},
        {"amount": "1.00"},
        {"amount": "1.00", "reason": ""},
        {"reason": "x"},
    ],
)
def test_bad_refunds_are_400_and_change_nothing(
    desk: HostClient, visit: Appointment, body: dict[str, Any]
) -> None:
    payment_id = pay(desk, visit.pk, "100.00").json()["id"]
    before = ledger_state()

    response = desk.post(f"/api/v1/payments/{payment_id}/refunds/", body, format="json")

    assert response.status_code == 400
    assert ledger_state() == before


def test_a_retried_payment_never_charges_twice(desk: HostClient, visit: Appointment) -> None:
    url = f"/api/v1/appointments/{visit.pk}/payments/"
    body = {"kind": "deposit", "amount": "100.00", "method": "upi"}

    first = desk.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    retry = desk.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    other = desk.post(
        url, {**body, "amount": "120.00"}, format="json", HTTP_IDEMPOTENCY_KEY="pay-1"
    )

    assert first.json() == retry.json()
    assert other.status_code == 422
    assert Payment.objects.count() == 1


def test_payments_and_invoices_stay_inside_their_branch_and_role(
    tenant: Tenant, visit: Appointment, main_branch: Branch, desk: HostClient
) -> None:
    payment_id = pay(desk, visit.pk, "100.00").json()["id"]
    elsewhere = client_for(UserFactory(role=Role.RECEPTIONIST, branches=[BranchFactory()]), tenant)
    doctor = client_for(UserFactory(role=Role.DOCTOR, branches=[main_branch]), tenant)
    before = ledger_state()

    assert pay(elsewhere, visit.pk, "100.00").status_code == 404
    assert elsewhere.get(f"/api/v1/appointments/{visit.pk}/invoice/").status_code == 404
    assert (
        elsewhere.post(
            f"/api/v1/payments/{payment_id}/refunds/",
            {"amount": "1.00", "reason": "x"},
            format="json",
        ).status_code
        == 404
    )
    assert pay(doctor, visit.pk, "100.00").status_code == 403
    assert doctor.get(f"/api/v1/appointments/{visit.pk}/invoice/").status_code == 403
    assert ledger_state() == before


def test_another_tenant_cannot_touch_the_ledger(
    other_tenant: Tenant, visit: Appointment, desk: HostClient
) -> None:
    from django_tenants.utils import schema_context

    from apps.clinic.models import User

    payment_id = pay(desk, visit.pk, "100.00").json()["id"]
    with schema_context(other_tenant.schema_name):
        foreign = client_for(User.objects.get(role=Role.OWNER), other_tenant)

    assert foreign.get(f"/api/v1/appointments/{visit.pk}/invoice/").status_code == 404
    assert (
        foreign.post(
            f"/api/v1/payments/{payment_id}/refunds/",
            {"amount": "1.00", "reason": "x"},
            format="json",
        ).status_code
        == 404
    )


def test_the_board_shows_takings_net_of_refunds_by_method(
    desk: HostClient, doctor: Doctor, patient: Patient, main_branch: Branch
) -> None:
    today = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))
    later = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 10))
    cash_id = pay(desk, today.pk, "300.00").json()["id"]
    pay(desk, later.pk, "500.00", method="upi")
    desk.post(
        f"/api/v1/payments/{cash_id}/refunds/", {"amount": "100.00", "reason": "x"}, format="json"
    )
    catch_up()

    board = desk.get(f"/api/v1/branches/{main_branch.pk}/board/?date=2027-01-04").json()

    assert board["takings"] == {"cash": "200.00", "upi": "500.00"}
    assert board["as_of_position"] == Event.objects.latest("position").position


def test_refund_reasons_stay_out_of_events(desk: HostClient, visit: Appointment) -> None:
    payment_id = pay(desk, visit.pk, "100.00").json()["id"]

    desk.post(
        f"/api/v1/payments/{payment_id}/refunds/",
        {"amount": "10.00", "reason": "asthma attack, could not come"},
        format="json",
    )

    assert "asthma" not in str(list(Event.objects.values_list("data", flat=True)))


def test_invoices_are_in_the_tenants_currency(
    desk: HostClient, visit: Appointment, tenant: Tenant
) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(currency="EUR")

    draft = desk.get(f"/api/v1/appointments/{visit.pk}/invoice/").json()
    pay(desk, visit.pk, "100.00")
    issued = Invoice.objects.get(appointment=visit)

    assert draft["currency"] == "EUR"
    assert issued.currency == "EUR"
    assert Event.objects.get(type="PaymentTaken").data["currency"] == "EUR"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE billing_payment SET amount = 1",
        "DELETE FROM billing_payment",
        "UPDATE billing_refund SET amount = 1",
        "DELETE FROM billing_refund",
    ],
)
def test_payments_and_refunds_cannot_be_changed_through_sql(
    desk: HostClient, visit: Appointment, statement: str
) -> None:
    payment = pay(desk, visit.pk, "500.00").json()
    desk.post(
        f"/api/v1/payments/{payment['id']}/refunds/",
        {"amount": "100.00", "reason": "x"},
        format="json",
    )
    assert (Payment.objects.count(), Refund.objects.count()) == (1, 1)

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)

    assert Payment.objects.get().amount == Decimal("500.00")
    assert Refund.objects.get().amount == Decimal("100.00")
