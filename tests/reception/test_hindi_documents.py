"""What reception prints and the command refusals it shows, for a receptionist who switched
the console to Hindi with the top bar's switch: the receipt, the token slip, the GST
documents (their legal English titles kept beside the Hindi) and the refusals of the
commands, each in Hindi with lakh grouping and none of the English labels left; the API
keeps its English `detail` and its codes."""

import re
from decimal import Decimal

import pytest
from django.utils import translation

from apps.billing import commands as billing
from apps.billing.models import GstDocument, Invoice, Payment
from apps.clinic.models import Branch, Role, User
from apps.core.errors import Conflict
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.tenants.models import Tenant
from tests.clinic.factories import UserFactory
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import DoctorFactory

pytestmark = pytest.mark.usefixtures("monday_morning")


def switch_to_hindi(client: HostClient, here: str) -> None:
    """What a user does: the top bar's switch posts the choice and comes back."""
    answer = client.post("/account/language/", {"language": "hi", "next": here})
    assert answer.status_code == 302 and answer["Location"] == here


def text_of(html: str) -> str:
    """The page's words as a reader sees them (tags and scripts left out)."""
    html = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def receptionist(main_branch: Branch) -> User:
    return UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])


@pytest.fixture
def desk(api: HostClient, receptionist: User) -> HostClient:
    api.force_login(receptionist)
    return api


@pytest.fixture
def costly_doctor(main_branch: Branch) -> Doctor:
    return DoctorFactory(
        branch=main_branch, name="Dr. Kavita Menon", consultation_fee=Decimal("123456.00")
    )


@pytest.fixture
def paid_visit(costly_doctor: Doctor, patient: Patient) -> Appointment:
    """Checked in (token 1) with ₹1,00,000.00 of the ₹1,23,456.00 fee paid by UPI."""
    return checked_in_and_paid(costly_doctor, patient, Decimal("100000.00"))


def checked_in_and_paid(doctor: Doctor, patient: Patient, deposit: Decimal) -> Appointment:
    """Booked at 10:00 on the 4th, checked in, and `deposit` taken by UPI."""
    visit = commands.appointment_check_in(
        actor=None,
        appointment=commands.appointment_book(
            actor=None, doctor=doctor, patient=patient, start=ist(4, 10)
        ),
    )
    billing.payment_take(
        actor=None, appointment=visit, kind="deposit", amount=deposit, method="upi"
    )
    return visit


def test_the_printed_receipt_reads_in_hindi_with_lakh_grouping(
    desk: HostClient, paid_visit: Appointment
) -> None:
    url = f"/reception/appointments/{paid_visit.pk}/invoice/"
    english = text_of(desk.get(url).content.decode())
    switch_to_hindi(desk, url)

    page = desk.get(url).content.decode()
    words = text_of(page)

    assert "Consultation" in english and "Balance due" in english
    assert '<html lang="hi">' in page
    for hindi in ("बिल", "स्थिति", "जारी", "विज़िट", "टोकन", "मरीज़:", "डॉक्टर:", "मद",
                  "परामर्श", "कर", "कुल", "चुकाया", "वापस किया", "बकाया राशि", "भुगतान",
                  "जमा राशि", "छापें"):  # fmt: skip
        assert hindi in words, hindi
    assert "₹1,23,456.00" in words and "₹1,00,000.00" in words and "₹23,456.00" in words
    for english_label in ("Consultation", "Balance due", "Status", "Visit", "Patient:",
                          "Doctor:", "Item", "Amount", "Total", "Paid", "Refunded", "Tax",
                          "Deposit", "Payments", "Print", "Issued"):  # fmt: skip
        assert not re.search(rf"\b{re.escape(english_label)}\b", words), english_label


def test_the_token_slip_reads_in_hindi(desk: HostClient, paid_visit: Appointment) -> None:
    url = f"/reception/appointments/{paid_visit.pk}/token/"
    switch_to_hindi(desk, url)

    words = text_of(desk.get(url).content.decode())

    assert "टोकन" in words and "डॉक्टर" in words and "कमरा" in words
    assert "सोम 4 जनवरी 2027" in words or "4 जनवरी 2027" in words
    assert re.search(r'data-testid="slip-token">1<', desk.get(url).content.decode())
    for english_label in ("Token", "Doctor", "Room", "Time", "Please wait", "Print", "Back to"):
        assert english_label not in words, english_label


@pytest.fixture
def gst_documents(costly_doctor: Doctor, patient: Patient) -> dict[str, GstDocument]:
    """A Bill of Supply for the consultation and a Tax Invoice for a ₹1,23,456.00 item."""
    billing.gst_supplier_set(
        actor=None, legal_name="Acme Health LLP", gstin="27AAPFU0939F1ZV", address="Pune"
    )
    visit = commands.appointment_book(
        actor=None, doctor=costly_doctor, patient=patient, start=ist(4, 11)
    )
    billing.invoice_item_add(
        actor=None,
        appointment=visit,
        category="pharmacy",
        description="Insulin pen",
        quantity=1,
        unit_price=Decimal("123456.00"),
    )
    issued = billing.gst_documents_issue(actor=None, invoice=Invoice.objects.get(appointment=visit))
    return {document.kind: document for document in issued}


def test_the_gst_documents_read_in_hindi_beside_the_words_gst_law_prints(
    desk: HostClient, gst_documents: dict[str, GstDocument]
) -> None:
    tax_invoice = f"/reception/gst-documents/{gst_documents['tax_invoice'].pk}/"
    bill_of_supply = f"/reception/gst-documents/{gst_documents['bill_of_supply'].pk}/"
    english = text_of(desk.get(tax_invoice).content.decode())
    switch_to_hindi(desk, tax_invoice)

    invoice = text_of(desk.get(tax_invoice).content.decode())
    supply = text_of(desk.get(bill_of_supply).content.decode())

    assert "Tax Invoice" in english and "कर बीजक" not in english
    assert "कर बीजक / Tax Invoice" in invoice and "आपूर्ति का बिल / Bill of Supply" in supply
    for hindi in ("संख्या", "तारीख़", "वित्त वर्ष", "बिल पाने वाला", "आपूर्ति का स्थान",
                  "विवरण", "कर योग्य मूल्य", "कुल", "अधिकृत हस्ताक्षरकर्ता", "की ओर से"):  # fmt: skip
        assert hindi in invoice, hindi
    assert "परामर्श" in supply and "छूट प्राप्त आपूर्ति का मूल्य" in supply
    assert "₹1,23,456.00" in invoice and "GSTIN" in invoice and "CGST" in invoice
    for english_label in ("Number", "Financial year", "Bill to", "Place of supply",
                          "Description", "Taxable value", "Authorised signatory",
                          "Unregistered", "reverse charge", "Print"):  # fmt: skip
        assert english_label not in invoice, english_label
    assert "Value of exempt supplies" not in supply and "Consultation" not in supply


def test_the_gst_document_writes_its_total_in_hindi_words_and_keeps_english_for_the_api(
    desk: HostClient, owner: User, tenant: Tenant, gst_documents: dict[str, GstDocument]
) -> None:
    """₹1,23,456.00, hand-checked: एक लाख तेईस हज़ार चार सौ छप्पन रुपये मात्र."""
    document = gst_documents["tax_invoice"]
    url = f"/reception/gst-documents/{document.pk}/"
    english = desk.get(url).content.decode()
    switch_to_hindi(desk, url)

    hindi = desk.get(url).content.decode()
    api = client_for(owner, tenant).get(f"/api/v1/gst-documents/{document.pk}/")

    words = "एक लाख तेईस हज़ार चार सौ छप्पन रुपये मात्र"
    assert f'<p class="gst-words" lang="hi" data-testid="gst-words">{words}</p>' in hindi
    assert "Rupees One Lakh Twenty-Three Thousand Four Hundred Fifty-Six only" not in hindi
    assert (
        'lang="en-IN" data-testid="gst-words">Rupees One Lakh Twenty-Three Thousand Four '
        "Hundred Fifty-Six only</p>" in english
    )
    assert api.status_code == 200
    assert api.json()["total_in_words"] == (
        "Rupees One Lakh Twenty-Three Thousand Four Hundred Fifty-Six only"
    )
    assert "महाराष्ट्र (27)" in text_of(hindi) and "Maharashtra" not in text_of(hindi)


def test_the_gst_page_names_the_documents_in_hindi(
    desk: HostClient, gst_documents: dict[str, GstDocument]
) -> None:
    visit = gst_documents["tax_invoice"].invoice.appointment
    url = f"/reception/branches/{visit.branch_id}/appointments/{visit.pk}/gst/"
    switch_to_hindi(desk, url)

    words = text_of(desk.get(url).content.decode())

    assert "कर बीजक / Tax Invoice TI/" in words and "आपूर्ति का बिल / Bill of Supply BOS/" in words


def test_a_refund_above_what_was_paid_is_refused_in_hindi_and_the_api_keeps_english(
    desk: HostClient, receptionist: User, tenant: Tenant, paid_visit: Appointment
) -> None:
    payment = Payment.objects.get(appointment=paid_visit)
    url = f"/reception/branches/{paid_visit.branch_id}/appointments/{paid_visit.pk}/pay/"
    switch_to_hindi(desk, url)
    prefix = f"refund-{payment.pk}"

    refused = desk.post(
        url,
        {
            "form": prefix,
            f"{prefix}-kind": "refund",
            f"{prefix}-amount": "150000.00",
            f"{prefix}-reason": "Asked twice",
        },
    )
    receptionist.refresh_from_db()
    by_api = client_for(receptionist, tenant).post(
        f"/api/v1/payments/{payment.pk}/refunds/",
        {"amount": "150000.00", "reason": "Asked twice"},
        format="json",
    )

    assert refused.status_code == 400
    assert "इस भुगतान में से केवल ₹1,00,000.00 वापस किए जा सकते हैं।" in refused.content.decode()
    assert "can be refunded" not in refused.content.decode()
    assert receptionist.language == "hi"
    assert by_api.status_code == 409
    assert by_api.json()["detail"] == "Only ₹1,00,000.00 of this payment can be refunded."


def test_a_taken_slot_and_a_time_outside_the_doctors_hours_are_refused_in_hindi(
    desk: HostClient, main_branch: Branch, doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 10))
    other = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 11))
    move = f"/reception/branches/{main_branch.pk}/appointments/{other.pk}/reschedule/"
    switch_to_hindi(desk, move)

    taken = desk.post(move, {"start": "2027-01-04T10:00:00+05:30"}, follow=True)
    at_night = desk.post(move, {"start": "2027-01-05T23:00:00+05:30"}, follow=True)

    assert "यह स्लॉट पहले से बुक है।" in taken.content.decode()
    assert "इस समय शुरू होने वाला डॉक्टर का कोई स्लॉट नहीं है।" in at_night.content.decode()
    for page in (taken, at_night):
        assert "already taken" not in page.content.decode()
        assert "no slot starting" not in page.content.decode()
    assert Appointment.objects.get(pk=other.pk).start == ist(4, 11)
    assert Appointment.objects.get(pk=visit.pk).start == ist(4, 10)


def test_a_step_the_state_machine_refuses_is_said_in_hindi(
    desk: HostClient, main_branch: Branch, paid_visit: Appointment
) -> None:
    board = f"/reception/branches/{main_branch.pk}/"
    switch_to_hindi(desk, board)

    refused = desk.post(
        f"/reception/branches/{main_branch.pk}/appointments/{paid_visit.pk}/cancel/",
        {"reason": "Changed plans", "next": board},
        follow=True,
    )

    assert "“चेक-इन” अपॉइंटमेंट रद्द नहीं किया जा सकता।" in refused.content.decode()
    assert "cannot be cancelled" not in refused.content.decode()
    assert Appointment.objects.get(pk=paid_visit.pk).status == "checked_in"


def test_a_refusal_keeps_its_english_for_the_api_and_the_logs_whatever_the_language() -> None:
    with translation.override("hi"):
        refusal = Conflict(
            "A %(status)s appointment cannot be cancelled.",
            params={"status": Appointment(status="checked_in").status_label()},
        )
        shown = refusal.translated()

    assert refusal.message == "A checked in appointment cannot be cancelled."
    assert refusal.as_dict() == {"detail": "A checked in appointment cannot be cancelled."}
    assert str(refusal) == refusal.message
    assert shown == "“चेक-इन” अपॉइंटमेंट रद्द नहीं किया जा सकता।"
    with translation.override("en-in"):
        assert refusal.translated() == refusal.message


def test_tax_lines_read_in_hindi_on_a_hindi_page_and_stay_english_on_the_bill_and_the_api(
    desk: HostClient, owner: User, tenant: Tenant, main_branch: Branch, patient: Patient
) -> None:
    """A ₹1,000.00 consultation with CGST 9% and SGST 9% of the clinic's tax rules, and an
    IGST 18% rule named by the clinic as it likes ("IGST (inter-state)")."""
    for name, rate in (("CGST", "9"), ("SGST", "9"), ("IGST (inter-state)", "18.00")):
        billing.tax_rule_add(actor=None, name=name, rate=Decimal(rate))
    doctor = DoctorFactory(branch=main_branch, consultation_fee=Decimal("1000.00"))
    visit = checked_in_and_paid(doctor, patient, Decimal("500.00"))
    receipt = f"/reception/appointments/{visit.pk}/invoice/"
    pay = f"/reception/branches/{main_branch.pk}/appointments/{visit.pk}/pay/"
    english = text_of(desk.get(receipt).content.decode())
    switch_to_hindi(desk, receipt)

    hindi = {url: text_of(desk.get(url).content.decode()) for url in (receipt, pay)}
    stored = [line["description"] for line in Invoice.objects.get(appointment=visit).lines]
    api = client_for(owner, tenant).get(f"/api/v1/appointments/{visit.pk}/invoice/")

    assert "CGST @ 9% ₹90.00" in english and "IGST (inter-state) @ 18% ₹180.00" in english
    for url, words in hindi.items():
        assert "CGST 9% की दर से ₹90.00" in words, url
        assert "SGST 9% की दर से ₹90.00" in words, url
        assert "IGST (inter-state) 18% की दर से ₹180.00" in words, url
        assert " @ " not in words, url
    assert stored == ["Consultation", "CGST @ 9%", "IGST (inter-state) @ 18%", "SGST @ 9%"]
    assert api.status_code == 200
    assert [line["description"] for line in api.json()["lines"]] == stored
