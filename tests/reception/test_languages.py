"""The console in English and Hindi: every marked string has its Hindi, a Hindi-reading
receptionist reads the desk's pages, confirmations and money in Hindi, each page offers the
language switch, and a patient's message language is chosen at registration."""

import os
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.billing import commands as billing
from apps.billing.models import Invoice
from apps.clinic.models import Branch, Role
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from tests.browser import pages
from tests.clinic.factories import UserFactory
from tests.clock import ist
from tests.conftest import HostClient
from tests.scheduling.factories import DoctorFactory

pytestmark = pytest.mark.usefixtures("monday_morning")

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "locale/hi/LC_MESSAGES/django.po"


def test_every_page_of_the_site_is_swept() -> None:
    listed = {page.name for page in pages.PAGES}

    assert not listed & pages.NOT_SWEPT.keys()
    assert pages.tenant_page_names() == listed | pages.NOT_SWEPT.keys()


def test_every_string_marked_for_translation_has_its_hindi(
    tmp_path: Path, settings: object
) -> None:
    """Extracts the marked strings of the project's code and templates afresh and compares
    them with the committed catalogue: a string without Hindi (or only a fuzzy guess) fails."""
    for part in ("apps", "mymedic", "templates"):
        (tmp_path / part).symlink_to(ROOT / part)
    settings.LOCALE_PATHS = [tmp_path / "locale"]  # type: ignore[attr-defined]
    here = Path.cwd()
    os.chdir(tmp_path)
    try:
        call_command("makemessages", locale=["hi"], symlinks=True, no_location=True, verbosity=0)
    finally:
        os.chdir(here)
    extracted = tmp_path / "locale/hi/LC_MESSAGES/django.po"

    checked = subprocess.run(  # noqa: S603
        ["/usr/bin/msgcmp", str(CATALOGUE), str(extracted)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert checked.returncode == 0, checked.stderr
    assert "अपॉइंटमेंट" in CATALOGUE.read_text() and "मरीज़" in CATALOGUE.read_text()


@pytest.fixture
def hindi_desk(api: HostClient, main_branch: Branch) -> HostClient:
    api.force_login(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch], language="hi"))
    return api


@pytest.fixture
def costly_doctor(main_branch: Branch) -> Doctor:
    return DoctorFactory(
        branch=main_branch, name="Dr. Kavita Menon", consultation_fee=Decimal("123456.00")
    )


def test_a_hindi_reading_receptionist_checks_in_and_reads_the_confirmation_in_hindi(
    hindi_desk: HostClient, main_branch: Branch, costly_doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(
        actor=None, doctor=costly_doctor, patient=patient, start=ist(4, 10)
    )
    url = f"/reception/branches/{main_branch.pk}/appointments/{visit.pk}/"

    hindi_desk.post(f"{url}check-in/", {"next": url})
    page = hindi_desk.get(url).content.decode()

    assert '<html lang="hi">' in page
    assert "चेक-इन हो गया: Ravi Kumar, Dr. Kavita Menon के साथ, सोम 4 जनवरी 2027, 10:00 बजे।" in page
    assert "बकाया राशि" in page and "₹1,23,456.00" in page
    assert "Balance due" not in page and "Checked in" not in page


def test_a_hindi_reading_receptionist_takes_a_payment_in_hindi(
    hindi_desk: HostClient, main_branch: Branch, costly_doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(
        actor=None, doctor=costly_doctor, patient=patient, start=ist(4, 10)
    )
    url = f"/reception/branches/{main_branch.pk}/appointments/{visit.pk}/pay/"

    form = hindi_desk.get(url).content.decode()
    hindi_desk.post(
        url, {"form": "payment", "kind": "deposit", "amount": "100000", "method": "upi"}
    )
    paid = hindi_desk.get(url).content.decode()

    assert "भुगतान लें" in form and "ली जाने वाली राशि" in form
    assert "₹1,00,000.00 Ravi Kumar से UPI द्वारा लिए गए (जमा राशि)।" in paid
    assert "बकाया राशि ₹23,456.00" in paid


def test_an_english_desk_keeps_english_with_lakh_grouping(
    api: HostClient, main_branch: Branch, costly_doctor: Doctor, patient: Patient
) -> None:
    api.force_login(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]))
    visit = commands.appointment_book(
        actor=None, doctor=costly_doctor, patient=patient, start=ist(4, 10)
    )

    page = api.get(f"/reception/branches/{main_branch.pk}/appointments/{visit.pk}/").content

    assert '<html lang="en-IN">' in page.decode()
    assert "Balance due" in page.decode() and "₹1,23,456.00" in page.decode()


def test_every_page_of_the_desk_offers_the_language_switch(
    hindi_desk: HostClient, main_branch: Branch, costly_doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(
        actor=None, doctor=costly_doctor, patient=patient, start=ist(5, 10)
    )
    today = commands.appointment_check_in(
        actor=None,
        appointment=commands.appointment_book(
            actor=None, doctor=costly_doctor, patient=patient, start=ist(4, 10)
        ),
    )
    billing.gst_supplier_set(
        actor=None, legal_name="Acme Health LLP", gstin="27AAPFU0939F1ZV", address="Pune"
    )
    billing.invoice_item_add(
        actor=None,
        appointment=visit,
        category="pharmacy",
        description="Paracetamol 650 mg",
        quantity=1,
        unit_price=Decimal("35.00"),
    )
    document = billing.gst_documents_issue(
        actor=None, invoice=Invoice.objects.get(appointment=visit)
    )[0]
    seed = {
        "branch": main_branch.pk,
        "patient": patient.pk,
        "appointment": visit.pk,
        "checked_in": today.pk,
        "gst_document": document.pk,
    }
    desk_pages = [page for page in pages.PAGES if page.who == "desk"]

    answers = {page.name: hindi_desk.get(page.path(seed), follow=True) for page in desk_pages}

    assert len(desk_pages) >= 14
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 200)
    missing = [
        name
        for name, r in answers.items()
        if 'data-testid="language-choice"' not in r.content.decode()
        or '<html lang="hi">' not in r.content.decode()
    ]
    assert missing == []


def test_the_language_switch_returns_to_the_page_it_was_on(
    hindi_desk: HostClient, main_branch: Branch
) -> None:
    here = f"/reception/branches/{main_branch.pk}/calendar/?view=week"

    answer = hindi_desk.post("/account/language/", {"language": "en", "next": here})

    assert answer.status_code == 302 and answer["Location"] == here
    assert '<html lang="en-IN">' in hindi_desk.get(here).content.decode()


def test_registering_a_patient_chooses_the_language_of_their_messages(
    hindi_desk: HostClient, main_branch: Branch
) -> None:
    hindi_desk.post(
        f"/reception/branches/{main_branch.pk}/patients/",
        {"name": "Sunita Devi", "phone": "+919811100022", "language": "hi"},
    )
    page = hindi_desk.get(f"/reception/branches/{main_branch.pk}/patients/").content.decode()

    registered = Patient.objects.latest("pk")
    assert (registered.name, registered.language) == ("Sunita Devi", "hi")
    assert "संदेश की भाषा" in page and '<option value="hi" selected>' not in page
