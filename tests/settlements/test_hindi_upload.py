"""The settlements page for a manager who switched the console to Hindi: the upload form's
labels and choices, its refusals and its confirmation, and the exception queue's kinds, in
Hindi with lakh grouping."""

import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.clinic.models import User
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
