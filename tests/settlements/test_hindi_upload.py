"""The settlements page for a manager who switched the console to Hindi: the upload form's
labels and choices, its refusals and its confirmation, and the exception queue's kinds, in
Hindi with lakh grouping."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from apps.clinic.models import User
from apps.core import dates
from apps.core.errors import InvalidInput
from apps.settlements import details, formats, problems
from apps.settlements.models import ExceptionItem
from apps.tenants.models import Tenant
from tests.settlements.conftest import payment_row, report


def text_of(html: str) -> str:
    html = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def hindi_manager(tenant: Tenant, owner: User) -> Client:
    browser = Client(HTTP_HOST=f"{tenant.slug}.localhost")
    browser.force_login(owner)
    answer = browser.post(
        "/account/language/", {"language": "hi", "next": "/reception/settlements/"}
    )
    assert answer.status_code == 302
    return browser


def test_the_upload_form_and_its_answers_read_in_hindi(tenant: Tenant, owner: User) -> None:
    browser = hindi_manager(tenant, owner)
    stranger = payment_row("pay_ZZunknown0042", "123456.00", "0.00", "0.00", "123456.00")

    form = text_of(browser.get("/reception/settlements/").content.decode())
    headless = browser.post(
        "/reception/settlements/",
        {"kind": "bank", "file": SimpleUploadedFile("odd.csv", b"when,what\n1,2\n")},
    )
    imported = browser.post(
        "/reception/settlements/",
        {"kind": "gateway", "file": SimpleUploadedFile("r.csv", report(stranger))},
        follow=True,
    )
    after = text_of(imported.content.decode())

    for hindi in ("फ़ाइल का प्रकार", "Razorpay सेटलमेंट रिपोर्ट", "बैंक स्टेटमेंट", "CSV फ़ाइल"):
        assert hindi in form, hindi
    for english in ("Kind of file", "Razorpay settlement report", "Bank statement", "CSV file"):
        assert english not in form, english
    assert headless.status_code == 200
    assert "पहली पंक्ति में कॉलम के नाम होने चाहिए; नहीं मिले: date, narration" in text_of(
        headless.content.decode()
    )
    assert "The first line must name" not in headless.content.decode()
    assert "1 में से 1 नई पंक्तियाँ आयात हुईं; 0 पहले से ज्ञात या अभी सेटल नहीं; 1 नए अपवाद।" in after
    assert "गेटवे की पंक्ति किसी भुगतान से नहीं मिलती" in after and "₹1,23,456.00" in after
    assert "Gateway row matches no payment" not in after and "Imported" not in after


def test_an_exceptions_detail_is_stored_in_english_and_shown_in_hindi(
    tenant: Tenant, owner: User
) -> None:
    browser = hindi_manager(tenant, owner)
    stranger = payment_row("pay_ZZunknown0043", "1500.00", "0.00", "0.00", "1500.00")
    browser.post(
        "/reception/settlements/",
        {"kind": "gateway", "file": SimpleUploadedFile("r.csv", report(stranger))},
    )

    page = text_of(browser.get("/reception/settlements/").content.decode())
    item = ExceptionItem.objects.get(reference="pay_ZZunknown0043")

    assert item.detail == (
        "The gateway's payment pay_ZZunknown0043 (order -, receipt -) matches no payment of ours."
    )
    assert "गेटवे का भुगतान pay_ZZunknown0043 (ऑर्डर -, रसीद -) हमारे किसी भुगतान से नहीं मिलता।" in page
    assert "matches no payment of ours" not in page


def test_every_wording_of_an_exception_reads_back_in_hindi_and_unknown_text_stays() -> None:
    english = {
        details.DUPLICATE_ROW: {"type": "refund", "entity": "rfnd_1", "settlement": "setl_9"},
        details.SHORT_SETTLEMENT: {
            "settlement": "setl_9",
            **{name: Decimal("1234567.50") for name in details.SHORT_FIGURES},
        },
        details.UNSETTLED_PAYMENT: {"method": "Card", "payment": 7, "day": "4 Jan 2027", "days": 3},
        details.BANK_MISMATCH: {
            "credit": Decimal("1500"),
            "day": date(2027, 1, 4),
            "utr": "UTR0001",
            "settlement": "setl_9",
            "net": Decimal("1450.50"),
        },
        details.UNBANKED_LINE: {
            "credit": Decimal("99.99"),
            "day": date(2027, 1, 4),
            "reference": "-",
        },
    }
    stored = {wording: details.stored(wording, **parts) for wording, parts in english.items()}
    with translation.override("hi"):
        shown = {wording: details.shown(text) for wording, text in stored.items()}
        unknown = details.shown("Gateway payment pay_1 was not recorded: no such visit")
        cut = details.shown(stored[details.BANK_MISMATCH][:40])

    assert stored[details.BANK_MISMATCH] == (
        "The bank credited ₹1,500.00 on 4 Jan 2027 with UTR UTR0001; settlement setl_9 paid "
        "out ₹1,450.50."
    )
    assert shown[details.BANK_MISMATCH] == (
        "बैंक में 4 जनवरी 2027 को UTR UTR0001 के साथ ₹1,500.00 जमा हुए; सेटलमेंट setl_9 में "
        "₹1,450.50 दिए गए थे।"
    )
    assert shown[details.DUPLICATE_ROW].startswith("गेटवे ने रिफ़ंड rfnd_1 फिर से दिखाया")
    assert shown[details.UNSETTLED_PAYMENT] == (
        "4 जनवरी 2027 का कार्ड भुगतान 7, 3 दिन बाद भी किसी सेटलमेंट में नहीं है।"
    )
    assert shown[details.SHORT_SETTLEMENT].startswith("सेटलमेंट setl_9 में ₹12,34,567.50 मिले;")
    assert shown[details.UNBANKED_LINE] == (
        "बैंक में 4 जनवरी 2027 को ₹99.99 जमा हुए (संदर्भ -), और किसी आयात किए गए सेटलमेंट में वह UTR नहीं है।"
    )
    assert unknown == "Gateway payment pay_1 was not recorded: no such visit"
    assert cut == stored[details.BANK_MISMATCH][:40]


def test_a_files_line_problem_is_shown_in_hindi_and_the_import_keeps_english(
    tenant: Tenant, owner: User
) -> None:
    browser = hindi_manager(tenant, owner)
    bad_amount = payment_row("pay_ZZbad0001", "1234.5x", "0.00", "0.00", "1234.50")
    bank = b"date,narration,reference,credit,debit,balance\n04/01/2027,NEFT,UTR0001,1500.00,,\n"

    gateway_page = browser.post(
        "/reception/settlements/",
        {"kind": "gateway", "file": SimpleUploadedFile("r.csv", report(bad_amount))},
    )
    bank_page = browser.post(
        "/reception/settlements/",
        {"kind": "bank", "file": SimpleUploadedFile("b.csv", bank)},
    )
    with pytest.raises(InvalidInput) as refused:
        formats.parse_bank(bank.decode())

    gateway_words = text_of(gateway_page.content.decode())
    bank_words = text_of(bank_page.content.decode())
    assert gateway_page.status_code == bank_page.status_code == 200
    assert "पंक्ति 2: 500.00 जैसी राशि नहीं है" in gateway_words
    assert "पंक्ति 2: YYYY-MM-DD फ़ॉर्मैट में लिखें।" in bank_words
    assert "line 2" not in gateway_words + bank_words
    assert "not an amount" not in gateway_words and "Use the format" not in bank_words
    assert refused.value.errors == {"rows": ["line 2: Use the format YYYY-MM-DD."]}


def test_every_refused_line_is_listed_at_once_and_a_long_list_says_how_many_more(
    tenant: Tenant, owner: User
) -> None:
    browser = hindi_manager(tenant, owner)
    bad = b"".join(f"0{day}/01/2027,NEFT,UTR{day},1500.00,,\n".encode() for day in range(1, 4))
    many = b"".join(f"x{n},NEFT,UTR{n},1500.00,,\n".encode() for n in range(53))
    header = b"date,narration,reference,credit,debit,balance\n"

    page = browser.post(
        "/reception/settlements/",
        {"kind": "bank", "file": SimpleUploadedFile("b.csv", header + bad)},
    )
    with pytest.raises(InvalidInput) as refused:
        formats.parse_bank((header + many).decode())

    words = text_of(page.content.decode())
    assert "कुछ भी आयात नहीं हुआ: नीचे की पंक्तियाँ ठीक करें" in words
    assert [f"पंक्ति {line}: YYYY-MM-DD फ़ॉर्मैट में लिखें।" in words for line in (2, 3, 4)] == [
        True,
        True,
        True,
    ]
    rows = refused.value.errors["rows"]
    assert len(rows) == problems.LISTED + 1 == 51
    assert rows[-1] == "3 more line(s) with a problem, not listed"
    with translation.override("hi"):
        assert problems.shown(rows[-1]) == "3 और पंक्तियों में समस्या है, जो यहाँ नहीं दिखाई गईं"


def test_every_line_problem_reads_back_in_hindi_and_unknown_text_stays() -> None:
    english = {
        problems.NOT_AN_AMOUNT: "500.00 जैसी राशि नहीं है",
        problems.TOO_MANY_DECIMALS: "राशि में दशमलव के बाद दो से ज़्यादा अंक हैं",
        problems.AMOUNT_OUT_OF_RANGE: "राशि मान्य सीमा से बाहर है",
        problems.TYPE_NOT_KNOWN % {"types": "payment, refund, adjustment"}: (
            "type इनमें से एक होना चाहिए: payment, refund, adjustment"
        ),
        problems.ENTITY_EMPTY: "entity_id ख़ाली है",
        problems.CURRENCY_NOT_A_CODE: "currency तीन अक्षरों का कोड होना चाहिए",
        problems.CREDIT_OR_DEBIT: "हर पंक्ति में credit या debit में से कोई एक ही राशि होनी चाहिए",
        dates.OUT_OF_RANGE: "1900-01-01 से 2200-12-31 के बीच की तारीख़ दें।",
    }
    with translation.override("hi"):
        shown = {problem: problems.shown(problems.on_line(7, problem)) for problem in english}
        unknown = problems.shown("line 7: the bank's own words")
        other = problems.shown("Something else entirely")

    assert shown == {problem: f"पंक्ति 7: {hindi}" for problem, hindi in english.items()}
    assert unknown == "पंक्ति 7: the bank's own words"
    assert other == "Something else entirely"
    assert problems.on_line(7, problems.NOT_AN_AMOUNT) == "line 7: not an amount such as 500.00"
