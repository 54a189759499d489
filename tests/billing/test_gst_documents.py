"""GST documents of a visit, every figure computed by hand.

The clinic is registered in Maharashtra (state 27). Medicines are sold at MRP (tax
included), so a 5% medicine at ₹105.00 is ₹100.00 of taxable value and ₹5.00 of GST.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from apps.billing import commands as billing
from apps.billing import gst
from apps.billing.models import GstDocument, Invoice, Payment
from apps.clinic.models import Branch
from apps.core.errors import Conflict, InvalidInput
from apps.eventstore.models import Event
from apps.reconciliation.compute import close_days
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Patient
from tests.clock import IST, ist
from tests.scheduling.factories import DoctorFactory

CLINIC_GSTIN = "27AAPFU0939F1ZV"  # Maharashtra
KARNATAKA_BUYER = "29AAACI1681G1ZL"


@pytest.fixture
def registered(tenant: Any) -> None:
    billing.gst_supplier_set(
        actor=None,
        legal_name="Acme Health Private Limited",
        gstin=CLINIC_GSTIN,
        address="12 Hill Road, Bandra West, Mumbai 400050",
    )


@pytest.fixture
def visit(main_branch: Branch, patient: Patient) -> Appointment:
    doctor = DoctorFactory(branch=main_branch, consultation_fee=Decimal("500.00"))
    return commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))


def medicines(visit: Appointment, quantity: int = 2, price: str = "105.00") -> Invoice:
    return billing.invoice_item_add(
        actor=None,
        appointment=visit,
        category="pharmacy",
        description="Amoxicillin 500 mg, strip of 10",
        quantity=quantity,
        unit_price=Decimal(price),
    )


def figures(document: GstDocument) -> dict[str, str]:
    return {
        key: str(getattr(document, key)) for key in ("taxable", "cgst", "sgst", "igst", "total")
    }


def line_figures(line: dict[str, str]) -> dict[str, str]:
    keys = ("code", "quantity", "unit_price", "rate", "taxable", "cgst", "sgst", "igst", "total")
    return {key: line[key] for key in keys}


def travel(traveller: time_machine.Coordinates, when: datetime) -> None:
    traveller.move_to(when)


@pytest.mark.usefixtures("registered")
def test_a_mixed_visit_in_one_state_gets_a_bill_of_supply_and_a_tax_invoice(
    visit: Appointment,
) -> None:
    invoice = medicines(visit)

    supply, tax_invoice = billing.gst_documents_issue(actor=None, invoice=invoice)

    assert invoice.total == Decimal("710.00")  # the bill itself does not change
    assert (supply.kind, supply.number, supply.date) == (
        "bill_of_supply",
        "BOS/2627/000001",
        date(2027, 1, 4),
    )
    assert [line_figures(line) for line in supply.lines] == [
        {
            "code": "999312",
            "quantity": "1",
            "unit_price": "500.00",
            "rate": "0",
            "taxable": "500.00",
            "cgst": "0.00",
            "sgst": "0.00",
            "igst": "0.00",
            "total": "500.00",
        }
    ]
    assert figures(supply) == {
        "taxable": "500.00",
        "cgst": "0.00",
        "sgst": "0.00",
        "igst": "0.00",
        "total": "500.00",
    }
    assert (tax_invoice.kind, tax_invoice.number) == ("tax_invoice", "TI/2627/000001")
    # 2 × 105.00 = 210.00 at 5%: 210 × 100 / 105 = 200.00 taxable, 10.00 GST, half each.
    assert [line_figures(line) for line in tax_invoice.lines] == [
        {
            "code": "3004",
            "quantity": "2",
            "unit_price": "105.00",
            "rate": "5",
            "taxable": "200.00",
            "cgst": "5.00",
            "sgst": "5.00",
            "igst": "0.00",
            "total": "210.00",
        }
    ]
    assert figures(tax_invoice) == {
        "taxable": "200.00",
        "cgst": "5.00",
        "sgst": "5.00",
        "igst": "0.00",
        "total": "210.00",
    }
    assert (tax_invoice.supplier_gstin, tax_invoice.supplier_state) == (CLINIC_GSTIN, "27")
    assert tax_invoice.supplier_legal_name == "Acme Health Private Limited"
    assert (tax_invoice.place_of_supply, tax_invoice.recipient_gstin) == ("27", "")
    assert tax_invoice.recipient_name == visit.patient.name


@pytest.mark.usefixtures("registered")
def test_a_registered_recipient_in_another_state_is_charged_igst(visit: Appointment) -> None:
    invoice = medicines(visit)

    supply, tax_invoice = billing.gst_documents_issue(
        actor=None,
        invoice=invoice,
        recipient_name="Infosys Limited",
        recipient_gstin=KARNATAKA_BUYER,
    )

    assert (tax_invoice.place_of_supply, tax_invoice.recipient_gstin) == ("29", KARNATAKA_BUYER)
    assert tax_invoice.recipient_name == "Infosys Limited"
    assert figures(tax_invoice) == {
        "taxable": "200.00",
        "cgst": "0.00",
        "sgst": "0.00",
        "igst": "10.00",
        "total": "210.00",
    }
    assert figures(supply) == {
        "taxable": "500.00",
        "cgst": "0.00",
        "sgst": "0.00",
        "igst": "0.00",
        "total": "500.00",
    }


@pytest.mark.usefixtures("registered")
def test_a_returned_medicine_gets_a_credit_note_against_its_tax_invoice_and_is_refunded(
    visit: Appointment, monday_morning: time_machine.Coordinates
) -> None:
    invoice = medicines(visit)
    _, tax_invoice = billing.gst_documents_issue(actor=None, invoice=invoice)
    payment = billing.payment_take(
        actor=None, appointment=visit, kind="balance", amount=Decimal("710.00"), method="cash"
    )
    travel(monday_morning, ist(6, 11))

    billing.invoice_line_withdraw(actor=None, invoice=invoice, line=1, reason="Returned unopened")
    refund = billing.payment_refund_overpayment(
        actor=None, payment=payment, amount=Decimal("210.00"), reason="Returned unopened"
    )

    note = GstDocument.objects.get(kind="credit_note")
    assert (note.number, note.date, note.original) == (
        "CN/2627/000001",
        date(2027, 1, 6),
        tax_invoice,
    )
    assert (note.original.number, note.original.date) == ("TI/2627/000001", date(2027, 1, 4))
    assert figures(note) == {
        "taxable": "200.00",
        "cgst": "5.00",
        "sgst": "5.00",
        "igst": "0.00",
        "total": "210.00",
    }
    assert refund.amount == Decimal("210.00")
    assert Payment.objects.get().amount - refund.amount == Decimal("500.00")


@pytest.mark.usefixtures("registered")
def test_a_discount_after_issue_credits_the_consultation_first(visit: Appointment) -> None:
    invoice = medicines(visit)
    supply, tax_invoice = billing.gst_documents_issue(actor=None, invoice=invoice)

    billing.invoice_discount(
        actor=None,
        appointment=visit,
        category="senior_citizen",
        reason="Senior citizen",
        amount=Decimal("600.00"),
    )

    on_supply = GstDocument.objects.get(kind="credit_note", original=supply)
    on_tax_invoice = GstDocument.objects.get(kind="credit_note", original=tax_invoice)
    # 600 off: 500 off the consultation, the other 100 off the medicines (210 → 110):
    # 110 × 100 / 105 = 104.76 taxable, 5.24 GST (2.62 each); credit 95.24 + 2.38 + 2.38.
    assert (on_supply.number, on_supply.total) == ("CN/2627/000001", Decimal("500.00"))
    assert on_tax_invoice.number == "CN/2627/000002"
    assert figures(on_tax_invoice) == {
        "taxable": "95.24",
        "cgst": "2.38",
        "sgst": "2.38",
        "igst": "0.00",
        "total": "100.00",
    }


@pytest.mark.usefixtures("registered")
def test_a_rate_change_mid_month_applies_from_its_date_and_leaves_earlier_documents_alone(
    main_branch: Branch, patient: Patient, monday_morning: time_machine.Coordinates
) -> None:
    doctor = DoctorFactory(branch=main_branch)
    early = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))
    late = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    travel(monday_morning, ist(14, 10))
    _, before = billing.gst_documents_issue(actor=None, invoice=medicines(early, 1, "112.00"))

    billing.gst_rate_add(
        actor=None, category="pharmacy", rate=Decimal("12"), effective_from=date(2027, 1, 15)
    )
    with pytest.raises(Conflict):
        billing.gst_rate_add(
            actor=None, category="pharmacy", rate=Decimal("18"), effective_from=date(2027, 1, 14)
        )
    travel(monday_morning, ist(15, 10))
    _, after = billing.gst_documents_issue(actor=None, invoice=medicines(late, 1, "112.00"))

    # 14 Jan at 5%: 112 × 100 / 105 = 106.67, GST 5.33 → CGST 2.67 (rounded), SGST 2.66.
    before.refresh_from_db()
    assert (before.lines[0]["rate"], figures(before)) == (
        "5",
        {"taxable": "106.67", "cgst": "2.67", "sgst": "2.66", "igst": "0.00", "total": "112.00"},
    )
    # 15 Jan at 12%: 112 × 100 / 112 = 100.00, GST 12.00.
    assert (after.lines[0]["rate"], figures(after)) == (
        "12",
        {"taxable": "100.00", "cgst": "6.00", "sgst": "6.00", "igst": "0.00", "total": "112.00"},
    )


@pytest.mark.usefixtures("registered")
def test_the_default_medicine_rate_fell_from_12_to_5_percent_on_22_september_2025(
    main_branch: Branch, patient: Patient, monday_morning: time_machine.Coordinates
) -> None:
    travel(monday_morning, datetime(2025, 9, 1, 8, tzinfo=IST))
    doctor = DoctorFactory(branch=main_branch)
    first = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=datetime(2025, 9, 2, 9, tzinfo=IST)
    )
    second = commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=datetime(2025, 9, 3, 9, tzinfo=IST)
    )
    travel(monday_morning, datetime(2025, 9, 21, 18, tzinfo=IST))
    _, at_12 = billing.gst_documents_issue(actor=None, invoice=medicines(first, 2, "112.00"))
    travel(monday_morning, datetime(2025, 9, 22, 9, tzinfo=IST))
    _, at_5 = billing.gst_documents_issue(actor=None, invoice=medicines(second, 2, "105.00"))

    assert (at_12.number, figures(at_12)) == (
        "TI/2526/000001",
        {"taxable": "200.00", "cgst": "12.00", "sgst": "12.00", "igst": "0.00", "total": "224.00"},
    )
    assert (at_5.number, figures(at_5)) == (
        "TI/2526/000002",
        {"taxable": "200.00", "cgst": "5.00", "sgst": "5.00", "igst": "0.00", "total": "210.00"},
    )


@pytest.mark.usefixtures("registered")
def test_numbering_starts_again_on_1_april_in_each_series(
    main_branch: Branch, patient: Patient, monday_morning: time_machine.Coordinates
) -> None:
    doctor = DoctorFactory(branch=main_branch)
    visits = [
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(day, 9))
        for day in (5, 6, 7)
    ]
    travel(monday_morning, datetime(2027, 3, 31, 22, 30, tzinfo=IST))
    march = billing.gst_documents_issue(actor=None, invoice=medicines(visits[0]))
    march += billing.gst_documents_issue(actor=None, invoice=medicines(visits[1]))
    travel(monday_morning, datetime(2027, 4, 1, 0, 15, tzinfo=IST))
    april = billing.gst_documents_issue(actor=None, invoice=medicines(visits[2]))

    assert [(d.number, d.date) for d in march] == [
        ("BOS/2627/000001", date(2027, 3, 31)),
        ("TI/2627/000001", date(2027, 3, 31)),
        ("BOS/2627/000002", date(2027, 3, 31)),
        ("TI/2627/000002", date(2027, 3, 31)),
    ]
    assert [(d.number, d.date) for d in april] == [
        ("BOS/2728/000001", date(2027, 4, 1)),
        ("TI/2728/000001", date(2027, 4, 1)),
    ]
    assert all(len(d.number) <= 16 for d in march + april)


@pytest.mark.usefixtures("registered")
def test_an_invoice_issued_before_gst_documents_keeps_its_number(
    visit: Appointment, main_branch: Branch
) -> None:
    payment = billing.payment_take(
        actor=None, appointment=visit, kind="deposit", amount=Decimal("100.00"), method="upi"
    )
    number = payment.invoice.number

    (supply,) = billing.gst_documents_issue(actor=None, invoice=payment.invoice)

    assert number == f"B{main_branch.pk}-000001"
    assert Invoice.objects.get(pk=payment.invoice_id).number == number
    assert supply.number == "BOS/2627/000001"
    with pytest.raises(Conflict, match="already on a GST document"):
        billing.gst_documents_issue(actor=None, invoice=payment.invoice)


@pytest.mark.usefixtures("registered")
def test_an_item_added_after_issue_goes_on_a_new_document(visit: Appointment) -> None:
    deposit = billing.payment_take(
        actor=None, appointment=visit, kind="deposit", amount=Decimal("100.00"), method="upi"
    )
    (supply,) = billing.gst_documents_issue(actor=None, invoice=deposit.invoice)
    invoice = medicines(visit)

    (tax_invoice,) = billing.gst_documents_issue(actor=None, invoice=invoice)

    assert (supply.kind, tax_invoice.kind) == ("bill_of_supply", "tax_invoice")
    assert [line["line"] for line in tax_invoice.lines] == ["1"]


def test_documents_need_the_clinics_gst_registration(visit: Appointment) -> None:
    with pytest.raises(Conflict, match="GST registration"):
        billing.gst_documents_issue(actor=None, invoice=medicines(visit))


@pytest.mark.parametrize(
    ("gstin", "problem"),
    [
        ("27AAPFU0939F1ZW", "check character"),
        ("99AAPFU0939F1ZV", "not a state code"),
        ("27AAPFU0939F1Z", "15 characters"),
    ],
)
def test_a_gstin_with_a_typo_is_refused(tenant: Any, gstin: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        billing.gst_supplier_set(actor=None, legal_name="Acme", gstin=gstin, address="Mumbai")


def test_a_rate_that_is_no_gst_slab_is_refused(tenant: Any) -> None:
    with pytest.raises(InvalidInput, match="one of"):
        billing.gst_rate_add(
            actor=None, category="pharmacy", rate=Decimal("7"), effective_from=date(2027, 2, 1)
        )


@pytest.mark.usefixtures("registered")
def test_room_rent_is_taxed_only_above_five_thousand_a_day(visit: Appointment) -> None:
    for price in ("5000.00", "5250.00"):
        billing.invoice_item_add(
            actor=None,
            appointment=visit,
            category="room_rent",
            description="Day-care room",
            quantity=1,
            unit_price=Decimal(price),
        )
    invoice = Invoice.objects.get(appointment=visit)

    supply, tax_invoice = billing.gst_documents_issue(actor=None, invoice=invoice)

    assert [(line["code"], line["total"]) for line in supply.lines] == [
        ("999312", "500.00"),
        ("999311", "5000.00"),
    ]
    # 5250 × 100 / 105 = 5000.00 taxable, 250.00 GST.
    assert figures(tax_invoice) == {
        "taxable": "5000.00",
        "cgst": "125.00",
        "sgst": "125.00",
        "igst": "0.00",
        "total": "5250.00",
    }


@pytest.mark.usefixtures("registered")
def test_events_of_documents_and_items_carry_no_names(visit: Appointment) -> None:
    billing.gst_documents_issue(actor=None, invoice=medicines(visit))

    logged = [
        str(event.data)
        for event in Event.objects.filter(type__in=["GstDocumentIssued", "InvoiceItemAdded"])
    ]
    assert len(logged) == 3
    assert not [text for text in logged if "Amoxicillin" in text or visit.patient.name in text]


@pytest.mark.usefixtures("registered")
def test_a_cancelled_visit_gets_credit_notes_for_all_its_documents(visit: Appointment) -> None:
    supply, tax_invoice = billing.gst_documents_issue(actor=None, invoice=medicines(visit))

    commands.appointment_cancel(actor=None, appointment=visit, reason="Patient travelling")

    notes = GstDocument.objects.filter(kind="credit_note").order_by("number")
    assert [(note.number, note.original, note.total) for note in notes] == [
        ("CN/2627/000001", supply, Decimal("500.00")),
        ("CN/2627/000002", tax_invoice, Decimal("210.00")),
    ]
    assert figures(notes[1]) == figures(tax_invoice)


def test_an_item_counts_in_the_days_expected_revenue(visit: Appointment) -> None:
    medicines(visit)

    (close,) = close_days(date(2027, 1, 4), date(2027, 1, 4))

    assert close.expected == Decimal("710.00")


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("210.00", "Rupees Two Hundred Ten only"),
        ("0.50", "Rupees Zero and Fifty Paise only"),
        ("100000.00", "Rupees One Lakh only"),
        (
            "12345678.91",
            "Rupees One Crore Twenty-Three Lakh Forty-Five Thousand Six Hundred Seventy-Eight "
            "and Ninety-One Paise only",
        ),
    ],
)
def test_totals_are_written_in_words_the_indian_way(amount: str, words: str) -> None:
    assert gst.amount_in_words(Decimal(amount)) == words


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("0.00", "शून्य रुपये मात्र"),
        ("5.00", "पाँच रुपये मात्र"),
        ("21.00", "इक्कीस रुपये मात्र"),
        ("100.00", "एक सौ रुपये मात्र"),
        ("105000.00", "एक लाख पाँच हज़ार रुपये मात्र"),
        ("1234567.50", "बारह लाख चौंतीस हज़ार पाँच सौ सड़सठ रुपये और पचास पैसे मात्र"),
        ("1.01", "एक रुपया और एक पैसा मात्र"),
        ("99.99", "निन्यानबे रुपये और निन्यानबे पैसे मात्र"),
        ("710.00", "सात सौ दस रुपये मात्र"),
        ("123456789.00", "बारह करोड़ चौंतीस लाख छप्पन हज़ार सात सौ नवासी रुपये मात्र"),
    ],
)
def test_totals_are_written_in_hindi_words_the_indian_way(amount: str, words: str) -> None:
    """Hand-checked: Hindi names each number below a hundred with its own word (इक्कीस,
    सड़सठ), and counts in सौ, हज़ार, लाख and करोड़."""
    assert gst.amount_in_words(Decimal(amount), "hi") == words
    assert gst.amount_in_words(Decimal(amount)) == gst.amount_in_words(Decimal(amount), "en")


def test_every_number_below_a_hundred_has_its_own_hindi_word() -> None:
    assert len(gst.HINDI_BELOW_HUNDRED) == len(set(gst.HINDI_BELOW_HUNDRED)) == 100
    assert gst.HINDI_BELOW_HUNDRED[0] == "शून्य"
    picked = [gst.HINDI_BELOW_HUNDRED[n] for n in (10, 19, 20, 50, 67, 79, 90)]
    assert picked == ["दस", "उन्नीस", "बीस", "पचास", "सड़सठ", "उन्यासी", "नब्बे"]
