"""Gateway settlement reports: matching rows to our payments, fees and GST booked as events,
settlements grouped by UTR, idempotent re-imports, and what goes to the exception queue."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command

from apps.billing import commands as billing
from apps.billing.models import Payment
from apps.core.errors import InvalidInput
from apps.eventstore.models import Event
from apps.scheduling.models import Doctor
from apps.settlements import commands, events
from apps.settlements.commands import settlement_figures
from apps.settlements.models import ExceptionItem, GatewayPayment, GatewayRow, Settlement
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.settlements.conftest import SAMPLES, book, payment_row, report, sample

D = Decimal


def open_items() -> list[tuple[str, str]]:
    return sorted(ExceptionItem.objects.filter(status="open").values_list("kind", "reference"))


def test_a_report_matches_our_payments_and_books_fee_and_gst_computed_by_hand(
    paid_by_gateway: dict[str, Payment],
) -> None:
    result = commands.gateway_file_import(actor=None, raw=sample("razorpay_settlement.csv"))

    assert (result.rows, result.new_rows, dict(result.counts)) == (3, 3, {"matched": 3})
    settled = Event.objects.filter(type=events.GATEWAY_PAYMENT_SETTLED).order_by("position")
    # 2% fee and 18% GST on it: 500.00 → 10.00 + 1.80; 1,200.00 → 24.00 + 4.32.
    assert [
        (e.data["payment_id"], e.data["method"], e.data["amount"], e.data["fee"], e.data["gst"])
        for e in settled
    ] == [
        (paid_by_gateway["upi"].pk, "upi", "500.00", "10.00", "1.80"),
        (paid_by_gateway["card"].pk, "card", "1200.00", "24.00", "4.32"),
    ]
    assert all(e.data["date"] == "2027-01-04" for e in settled)
    refund = Event.objects.get(type=events.GATEWAY_REFUND_SETTLED)
    assert (refund.data["payment_id"], refund.data["debit"]) == (
        paid_by_gateway["card"].pk,
        "100.00",
    )
    settlement = Settlement.objects.get()
    assert (settlement.settlement_id, settlement.utr) == ("setl_NB9xA1", "UTIBR72027010500451")
    # 1,700.00 − 100.00 refunded − 34.00 fees − 6.12 GST = 1,559.88 paid out.
    assert settlement_figures(settlement) == {
        "gross": D("1700.00"), "refunds": D("100.00"), "fees": D("34.00"), "gst": D("6.12"),
        "adjustments": D("0.00"), "net": D("1559.88"), "expected": D("1559.88"),
        "short": D("0.00"),
    }  # fmt: skip
    assert open_items() == []


def test_the_same_report_again_books_nothing_twice(paid_by_gateway: dict[str, Payment]) -> None:
    commands.gateway_file_import(actor=None, raw=sample("razorpay_settlement.csv"))
    rows, log = GatewayRow.objects.count(), Event.objects.count()

    again = commands.gateway_file_import(actor=None, raw=sample("razorpay_settlement.csv"))

    assert (again.already_imported, again.new_rows) == (True, 0)
    assert (GatewayRow.objects.count(), Event.objects.count()) == (rows, log)


def test_an_overlapping_report_books_only_its_new_rows(
    paid_by_gateway: dict[str, Payment], clinic_doctor: Doctor
) -> None:
    commands.gateway_file_import(actor=None, raw=sample("razorpay_settlement.csv"))
    lines = sample("razorpay_settlement.csv").decode().splitlines()
    later = book(clinic_doctor, 12)
    billing.payment_take(
        actor=None, appointment=later, kind="deposit", amount=D("300.00"), method="upi"
    )
    newer = payment_row(
        "pay_NC1new000009", "300.00", "7.08", "1.08", "292.92", "setl_NC2", "UTR0002",
        receipt=f"A{later.pk}-1",
    )  # fmt: skip
    overlapping = "\n".join([lines[0], lines[2], lines[3], newer, ""]).encode()

    result = commands.gateway_file_import(actor=None, raw=overlapping)

    assert (result.new_rows, result.skipped, dict(result.counts)) == (1, 2, {"matched": 1})
    assert GatewayRow.objects.count() == 4
    assert Event.objects.filter(type=events.GATEWAY_PAYMENT_SETTLED).count() == 3
    assert open_items() == []


def test_a_row_listed_twice_is_booked_once_and_queued_as_a_duplicate(
    paid_by_gateway: dict[str, Payment],
) -> None:
    row = payment_row("pay_NB7fUPI000001", "500.00", "11.80", "1.80", "488.20")
    twice = payment_row("pay_NB7fUPI000001", "500.00", "11.80", "1.80", "488.20", "setl_T2")

    result = commands.gateway_file_import(actor=None, raw=report(row, twice))

    assert dict(result.counts) == {"matched": 1, "duplicate": 1}
    assert Event.objects.filter(type=events.GATEWAY_PAYMENT_SETTLED).count() == 1
    assert Event.objects.filter(type=events.GATEWAY_ROW_DUPLICATED).count() == 1
    assert open_items() == [("duplicate_row", "pay_NB7fUPI000001")]


def test_a_short_settlement_lands_in_the_exception_queue(
    paid_by_gateway: dict[str, Payment],
) -> None:
    # 500.00 less 11.80 (fee 10.00 and GST 1.80) is 488.20; the gateway paid out 480.00.
    short = payment_row("pay_NB7fUPI000001", "500.00", "11.80", "1.80", "480.00")

    commands.gateway_file_import(actor=None, raw=report(short))

    item = ExceptionItem.objects.get(kind="short_settlement")
    assert (item.reference, item.amount, item.status) == ("setl_T1", D("8.20"), "open")
    assert "paid out ₹480.00" in item.detail and "is ₹488.20" in item.detail


def test_a_row_that_matches_no_payment_is_queued(tenant: Tenant) -> None:
    stranger = payment_row("pay_ZZunknown0001", "250.00", "5.90", "0.90", "244.10")

    result = commands.gateway_file_import(actor=None, raw=report(stranger))

    assert dict(result.counts) == {"unmatched": 1}
    assert open_items() == [("unmatched_row", "pay_ZZunknown0001")]
    assert Event.objects.filter(type=events.GATEWAY_PAYMENT_SETTLED).count() == 0


def test_a_desk_payment_is_matched_by_the_reference_on_its_gateway_receipt(
    clinic_doctor: Doctor,
) -> None:
    visit = book(clinic_doctor, 10)
    payment = billing.payment_take(
        actor=None, appointment=visit, kind="deposit", amount=D("700.00"), method="card"
    )
    row = payment_row(
        "pay_POS00000001", "700.00", "16.52", "2.52", "683.48", receipt=f"A{visit.pk}-1"
    )

    commands.gateway_file_import(actor=None, raw=report(row))

    assert GatewayPayment.objects.get().payment == payment
    assert GatewayRow.objects.get().payment == payment


def test_a_upi_payment_nobody_recorded_is_recorded_when_its_settlement_confirms_it(
    clinic_doctor: Doctor,
) -> None:
    # The patient paid the receipt's UPI QR; no webhook came and the desk recorded nothing.
    visit = book(clinic_doctor, 11)
    row = payment_row(
        "pay_QR000000001", "500.00", "11.80", "1.80", "488.20", receipt=f"A{visit.pk}-1"
    )

    result = commands.gateway_file_import(actor=None, raw=report(row))

    payment = Payment.objects.get(appointment=visit)
    assert (payment.amount, payment.method, payment.kind) == (D("500.00"), "upi", "deposit")
    assert GatewayRow.objects.get().payment == payment
    assert GatewayPayment.objects.get().gateway_payment_id == "pay_QR000000001"
    assert open_items() == []
    assert "unmatched" not in dict(result.counts)
    again = commands.gateway_file_import(actor=None, raw=report(row))
    assert Payment.objects.filter(appointment=visit).count() == 1
    assert "unmatched" not in dict(again.counts)


def test_a_card_payment_never_settled_is_queued_after_the_clinics_days(
    clinic_doctor: Doctor, monday_morning: time_machine.Coordinates
) -> None:
    visit = book(clinic_doctor, 10)
    with time_machine.travel(ist(4, 10) - timedelta(days=4), tick=False):
        unsettled = billing.payment_take(
            actor=None, appointment=visit, kind="deposit", amount=D("400.00"), method="card"
        )
    recent = billing.payment_take(
        actor=None, appointment=visit, kind="balance", amount=D("100.00"), method="upi"
    )
    stranger = payment_row("pay_ZZunknown0002", "50.00", "0.00", "0.00", "50.00")

    commands.gateway_file_import(actor=None, raw=report(stranger))

    items = ExceptionItem.objects.filter(kind="unsettled_payment")
    assert [(i.reference, i.amount, i.branch_id) for i in items] == [
        (f"payment:{unsettled.pk}", D("400.00"), visit.branch_id)
    ]
    assert f"payment:{recent.pk}" not in {i.reference for i in ExceptionItem.objects.all()}


def test_a_report_with_a_bad_row_imports_nothing_and_names_the_line(tenant: Tenant) -> None:
    good = payment_row("pay_ZZunknown0003", "250.00", "5.90", "0.90", "244.10")
    bad = good.replace("pay_ZZunknown0003,payment", "pay_ZZunknown0004,chargeback")

    with pytest.raises(InvalidInput) as refused:
        commands.gateway_file_import(actor=None, raw=report(good, bad))

    assert refused.value.errors == {"rows": ["line 3: type is one of payment, refund, adjustment"]}
    assert GatewayRow.objects.count() == 0


def test_the_management_command_imports_a_report_once(
    paid_by_gateway: dict[str, Payment], tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(SAMPLES / "razorpay_settlement.csv")
    call_command("import_settlement", path, tenant=tenant.slug)
    call_command("import_settlement", path, tenant=tenant.slug)

    out = capsys.readouterr().out.splitlines()
    assert out == [
        "3 new row(s) of 3 (3 matched), 0 skipped; 0 new exception(s).",
        "razorpay_settlement.csv was imported before; nothing changed.",
    ]
    assert GatewayRow.objects.count() == 3
