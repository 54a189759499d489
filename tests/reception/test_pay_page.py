"""The console's payments page: what is due pre-filled, refunds per payment row with their
errors beside them, discounts held to the receptionist's cap, credit notes, one spelling of
methods, and a receipt that never shows a debt the patient does not owe."""

import re
from decimal import Decimal

import pytest

from apps.billing.models import Invoice, Payment
from apps.clinic.models import Branch, Role
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient
from tests.billing.factories import PaymentFactory
from tests.clinic.factories import UserFactory
from tests.clock import ist
from tests.conftest import HostClient
from tests.scheduling.factories import DoctorFactory

pytestmark = pytest.mark.usefixtures("monday_morning")


@pytest.fixture
def desk(api: HostClient, main_branch: Branch) -> HostClient:
    api.force_login(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]))
    return api


@pytest.fixture
def visit(doctor: Doctor, patient: Patient) -> Appointment:
    return commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 10))


@pytest.fixture
def visit_600(main_branch: Branch, patient: Patient) -> Appointment:
    doctor = DoctorFactory(branch=main_branch, consultation_fee=Decimal("600.00"))
    return commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))


def url(appointment: Appointment) -> str:
    return f"/reception/branches/{appointment.branch_id}/appointments/{appointment.pk}/pay/"


def page(client: HostClient, appointment: Appointment) -> str:
    return str(client.get(url(appointment)).content.decode())


def row_of(html: str, payment: Payment) -> str:
    match = re.search(rf'<tr data-testid="payment-{payment.pk}">.*?</tr>', html, re.S)
    assert match, f"no row for payment {payment.pk}"
    return match.group(0)


def selected(html: str, name: str) -> str:
    select = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert select
    option = re.search(r'<option value="([^"]*)" selected>', select.group(0))
    assert option
    return option.group(1)


def test_the_balance_is_prefilled_and_the_kind_turns_to_balance_after_a_deposit(
    desk: HostClient, visit: Appointment
) -> None:
    before = page(desk, visit)
    taken = desk.post(
        url(visit),
        {"form": "payment", "kind": "deposit", "amount": "200.00", "method": "upi"},
        follow=True,
    )
    after = taken.content.decode()

    assert 'name="amount" value="500.00"' in before and selected(before, "kind") == "deposit"
    assert "Took ₹200.00 from Ravi Kumar by UPI (deposit)." in after
    assert 'name="amount" value="300.00"' in after and selected(after, "kind") == "balance"


def test_the_senior_citizen_concession_gives_money_back_and_leaves_nothing_due(
    desk: HostClient, visit_600: Appointment
) -> None:
    desk.post(
        url(visit_600), {"form": "payment", "kind": "balance", "amount": "600.00", "method": "cash"}
    )
    payment = Payment.objects.get()
    prefix = f"refund-{payment.pk}"

    done = desk.post(
        url(visit_600),
        {
            "form": prefix,
            f"{prefix}-kind": "concession",
            f"{prefix}-category": "senior_citizen",
            f"{prefix}-amount": "100.00",
            f"{prefix}-reason": "Senior citizen",
        },
        follow=True,
    ).content.decode()
    receipt = desk.get(f"/reception/appointments/{visit_600.pk}/invoice/").content.decode()

    assert (
        "Refund recorded. Paid back ₹100.00 to Ravi Kumar by Cash (concession refund). "
        "Senior citizen concession: ₹100.00 off the bill." in done
    )
    assert "balance due ₹0.00" in done
    assert re.search(r'data-testid="receipt-balance-due">₹0.00<', receipt)
    assert "Senior citizen discount" in receipt and "−₹100.00" in receipt
    assert "Concession refund" in receipt
    assert re.search(r"<th[^>]*>Total</th><td[^>]*>₹500.00<", receipt)


def test_a_refund_error_stays_on_its_row_with_what_was_typed(
    desk: HostClient, visit: Appointment
) -> None:
    for amount, kind in (("200.00", "deposit"), ("300.00", "balance")):
        PaymentFactory(appointment=visit, kind=kind, amount=Decimal(amount), method="cash")
    first, second = Payment.objects.order_by("id")
    prefix = f"refund-{second.pk}"

    response = desk.post(
        url(visit),
        {
            "form": prefix,
            f"{prefix}-kind": "refund",
            f"{prefix}-amount": "999.00",
            f"{prefix}-reason": "Typed with care",
        },
    )
    html = response.content.decode()

    assert response.status_code == 400
    row = row_of(html, second)
    assert "Only ₹300.00 of this payment can be refunded." in row
    assert 'value="999.00"' in row and 'value="Typed with care"' in row
    assert 'class="error"' not in row_of(html, first)


def test_a_receptionists_discount_over_the_cap_is_refused_beside_the_amount(
    desk: HostClient, visit_600: Appointment
) -> None:
    response = desk.post(
        url(visit_600),
        {
            "form": "discount",
            "discount-category": "staff",
            "discount-amount": "150.00",
            "discount-reason": "Staff member",
        },
    )
    html = response.content.decode()
    form = re.search(r'data-testid="discount-form">.*?</form>', html, re.S)

    assert response.status_code == 400 and form
    assert "You may take up to 20% (₹120.00) off this bill in all" in form.group(0)
    assert "A receptionist may take at most 20% off a bill: ₹120.00 on this one" in form.group(0)
    assert 'value="150.00"' in form.group(0)
    assert not Invoice.objects.filter(adjustments__isnull=False).exists()


def test_a_discount_within_the_cap_lowers_what_is_due(
    desk: HostClient, visit_600: Appointment
) -> None:
    done = desk.post(
        url(visit_600),
        {
            "form": "discount",
            "discount-category": "senior_citizen",
            "discount-percent": "10",
            "discount-reason": "60+",
        },
        follow=True,
    ).content.decode()

    assert "Senior citizen discount for Ravi Kumar: ₹60.00 off the bill, now ₹540.00." in done
    assert 'name="amount" value="540.00"' in done


def test_withdrawing_the_consultation_issues_a_credit_note(
    desk: HostClient, visit: Appointment
) -> None:
    PaymentFactory(appointment=visit, kind="balance", amount=Decimal("500"), method="card")

    done = desk.post(
        url(visit), {"form": "withdraw-0", "withdraw-0-reason": "Doctor away"}, follow=True
    ).content.decode()
    payment = Payment.objects.get()

    number = f"CN{visit.branch_id}-000001"
    assert f"Credit note {number} for Ravi Kumar: ₹500.00 off the bill" in done
    assert f"withdrawn: credit note {number}" in done
    assert "paid beyond the bill ₹500.00" in done
    row = row_of(done, payment)  # the overpayment is offered back, by the payment's method
    assert selected(row, f"refund-{payment.pk}-kind") == "overpayment"
    assert 'value="500.00"' in row


def test_methods_are_spelled_as_the_model_labels_them(desk: HostClient, visit: Appointment) -> None:
    PaymentFactory(appointment=visit, kind="deposit", amount=Decimal("100"), method="upi")

    html = page(desk, visit)

    assert "Deposit · UPI · ₹100.00" in html
    assert '<option value="cash">Cash</option>' in html
    assert "CASH" not in html


@pytest.mark.parametrize("amount", ["-5", "99999999999999.00", "garbage", "1e5000", ""])
@pytest.mark.parametrize("form", ["payment", "discount", "refund"])
def test_bad_amounts_are_form_errors_never_500(
    desk: HostClient, visit: Appointment, form: str, amount: str
) -> None:
    PaymentFactory(appointment=visit, kind="deposit", amount=Decimal("100"), method="cash")
    payment = Payment.objects.get()
    bodies = {
        "payment": {"form": "payment", "kind": "balance", "amount": amount, "method": "cash"},
        "discount": {
            "form": "discount",
            "discount-category": "staff",
            "discount-amount": amount,
            "discount-reason": "x",
        },
        "refund": {
            "form": f"refund-{payment.pk}",
            f"refund-{payment.pk}-kind": "refund",
            f"refund-{payment.pk}-amount": amount,
            f"refund-{payment.pk}-reason": "x",
        },
    }

    response = desk.post(url(visit), bodies[form])

    assert response.status_code == 400
    assert 'class="error" role="alert"' in response.content.decode()
    assert Payment.objects.count() == 1


def test_garbage_form_names_and_rows_just_show_the_page(
    desk: HostClient, visit: Appointment
) -> None:
    for name in ("refund-abc", "refund-999999", "withdraw-7", "nonsense"):
        assert desk.post(url(visit), {"form": name}).status_code == 200, name
