"""Every staff page of the console (`tests/browser/pages.py`), and the set-up's confirmations,
for members who read Hindi, with a clinic's day on them; and the signed-out pages (sign-in,
password reset, sign-up, with their refusals) for a browser that asks for Hindi: no English
words left on screen.

The visible text (text nodes, the page title, placeholders, alt, title and aria-label; not
scripts or styles) is scanned for runs of Latin-script words. What may stay Latin is ignored:
the seeded data (names, addresses, descriptions, e-mail addresses: what the clinic typed, in
any case),
anything with a digit (numbers, dates, ids, GSTINs, invoice numbers), the short list of terms
below, and text inside an element marked `lang="en…"` (English on purpose: the GST titles the
law prints in English beside the Hindi, the "English" choice of the language switch; the mark
also makes a screen reader read it in English)."""

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from apps.billing import commands as billing
from apps.billing.models import Invoice
from apps.clinic.commands import staff_create
from apps.clinic.models import Branch, User
from apps.queue import commands as queue
from apps.scheduling import commands
from apps.tenants.models import Tenant
from apps.tenants.rules import SUPPORTED_CURRENCIES
from apps.tenants.verification import verification_token
from tests.browser import pages
from tests.browser.desk import PASSWORD, signing_in_doctor
from tests.clock import ist
from tests.conftest import HostClient
from tests.settlements.conftest import payment_row, report

pytestmark = pytest.mark.usefixtures("monday_morning")

# Terms Indian front desks write in Latin script, in Hindi text too.
LATIN_TERMS = {
    # the brand
    "MyMedic",
    # GST as the law and every Indian invoice prints it
    "GST", "GSTIN", "CGST", "SGST", "UTGST", "IGST", "HSN", "SAC",
    # payment and file kinds, as apps and banks show them
    "UPI", "PDF", "CSV", "QR", "Razorpay",
    # the outpatient department, intensive care, the printed retail price on a pack, the
    # national health id, text messages, one-time passwords
    "OPD", "ICU", "MRP", "ABHA", "SMS", "OTP",
    # the clock and the bank's transfer reference, as Indian tickets and statements print them
    "IST", "UTR",
    # names of standards and products (the plan page's modules)
    "API", "FHIR", "MLLP", "WhatsApp",
    # currency and honorific in names
    "INR", "Dr",
}  # fmt: skip
# The names GST law gives its documents: printed in English after the Hindi ("कर बीजक / Tax
# Invoice"), as the law names them, also in the page's title where no mark can go.
LEGAL_TITLES = ("Tax Invoice", "Bill of Supply", "Credit Note")
# Time zones are shown as their IANA codes ("Asia/Kolkata"), the value the form sends.
ZONES = zoneinfo.available_timezones()
# Currencies are shown as their ISO codes ("INR", "EUR"), the value the sign-up form sends.
CODES = ZONES | SUPPORTED_CURRENCIES
ZONE = re.compile(r"[A-Za-z_]+(?:/[A-Za-z_+-]+)+")
WORD = r"[A-Za-z][A-Za-z'’]*"
RUN = re.compile(rf"{WORD}(?:[ \t.,;:/&()–—-]+{WORD})*")
WITH_DIGIT = re.compile(r"\S*\d\S*")
EMAIL_OR_URL = re.compile(r"\S+@\S+|https?://\S+|\S+\.localhost\S*")
SPOKEN_ATTRIBUTES = ("placeholder", "alt", "title", "aria-label")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
UNSEEN = {"script", "style", "template", "noscript"}


class VisibleText(HTMLParser):
    """The text a reader of the page sees or hears, outside elements marked English."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.open: list[tuple[str, bool]] = []  # (tag, hidden or marked English)

    def _skipping(self) -> bool:
        return any(skip for _, skip in self.open)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        english = (values.get("lang") or "").startswith("en") and tag != "html"
        skip = english or tag in UNSEEN
        if not skip and not self._skipping():
            self.chunks += [values[a] or "" for a in SPOKEN_ATTRIBUTES if values.get(a)]
            if tag == "input" and values.get("type") in ("submit", "button"):
                self.chunks.append(values.get("value") or "")
        if tag not in VOID:
            self.open.append((tag, skip))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.open.pop()

    def handle_endtag(self, tag: str) -> None:
        for at in range(len(self.open) - 1, -1, -1):
            if self.open[at][0] == tag:
                del self.open[at:]
                return

    def handle_data(self, data: str) -> None:
        if not self._skipping():
            self.chunks.append(data)


def english_runs(html: str, data: set[str]) -> list[str]:
    """The runs of Latin-script words on the page that are neither the clinic's own data nor
    the allowed terms, in page order, each once."""
    parser = VisibleText()
    parser.feed(html)
    found: list[str] = []
    for chunk in parser.chunks:
        for value in (*sorted(filter(None, data), key=len, reverse=True), *LEGAL_TITLES):
            chunk = re.sub(re.escape(value), " ", chunk, flags=re.IGNORECASE)
        if chunk.strip() in CODES:  # an option of the time-zone or currency list ("Asia/Kolkata")
            continue
        chunk = ZONE.sub(lambda m: " " if m.group() in ZONES else m.group(), chunk)
        chunk = WITH_DIGIT.sub(" ", EMAIL_OR_URL.sub(" ", chunk))
        for match in RUN.finditer(chunk):
            words = re.findall(WORD, match.group())
            if any(word not in LATIN_TERMS for word in words) and match.group() not in found:
                found.append(match.group())
    return found


def test_the_check_finds_english_and_passes_over_names_codes_and_marked_english() -> None:
    html = """<html lang="hi"><head><title>बोर्ड — Lakshmi Narayan</title>
      <style>.x{color:red}</style><script>let nextPage = "Book";</script></head>
      <body><h1>आज का OPD</h1><p>Balance due: ₹500.00</p>
      <p>GSTIN 27AAPFU0939F1ZV · INV-2026-0007 · UPI</p>
      <p class="gst-kind">कर बीजक / <span lang="en-IN">Tax Invoice</span></p>
      <input type="search" placeholder="Search by name"><img alt="शुल्क" src="x.png">
      <button aria-label="Check in">✓</button><p>pooja@example.com Lakshmi Narayan ने भुगतान किया।</p>
      </body></html>"""

    found = english_runs(html, {"Lakshmi Narayan"})

    assert found == ["Balance due", "Search by name", "Check in"]


@dataclass
class Clinic:
    """A branch's day, with every kind of thing a page can show, and who reads it."""

    seed: dict[str, Any]
    data: set[str] = field(default_factory=set)
    members: dict[str, Client] = field(default_factory=dict)


def hindi_member(tenant: Tenant, user: User) -> Client:
    """Signed in, then switched to Hindi with the top bar's switch, as a member does."""
    browser = Client(HTTP_HOST=f"{tenant.slug}.localhost")
    browser.force_login(user)
    answer = browser.post("/account/language/", {"language": "hi", "next": "/reception/"})
    assert answer.status_code == 302
    return browser


@pytest.fixture
def clinic(tenant: Tenant, main_branch: Branch, owner: User) -> Clinic:
    doctor = signing_in_doctor(main_branch, "Sunil Verma", "sunil@example.com", "123456.00")
    queue.doctor_room_set(actor=None, doctor=doctor, room="7")
    desk = staff_create(
        actor=None,
        name="Pooja Desk",
        email="pooja@example.com",
        password=PASSWORD,
        role="receptionist",
        branches=[main_branch],
    )
    patient = commands.patient_register(
        actor=None, name="Lakshmi Narayan", phone="98450 12345", branch=main_branch
    )
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    billing.gst_supplier_set(
        actor=None,
        legal_name="Narmada Health LLP",
        gstin="27AAPFU0939F1ZV",
        address="12 MG Road, Pune 411001",
    )
    billing.invoice_item_add(
        actor=None,
        appointment=visit,
        category="pharmacy",
        description="Paracetamol 650 mg, strip of 15",
        quantity=1,
        unit_price=Decimal("35.00"),
    )
    billing.invoice_discount(
        actor=None,
        appointment=visit,
        category="senior_citizen",
        percent=Decimal("10"),
        reason="Retired teacher",
    )
    documents = billing.gst_documents_issue(
        actor=None, invoice=Invoice.objects.get(appointment=visit)
    )
    walk_in = commands.patient_register(
        actor=None, name="Imran Qureshi", phone="98450 67890", branch=main_branch
    )
    checked_in = commands.appointment_check_in(
        actor=None,
        appointment=commands.appointment_book(
            actor=None, doctor=doctor, patient=walk_in, start=ist(4, 8) + timedelta(minutes=30)
        ),
    )
    key = queue.display_link_create(actor=None, branch=main_branch, name="Hall", language="hi")[1]
    made = Clinic(
        seed={
            "branch": main_branch.pk,
            "doctor": doctor.pk,
            "patient": patient.pk,
            "appointment": visit.pk,
            "checked_in": checked_in.pk,
            "gst_document": documents[0].pk,
            "display_key": key,
        },
        data={
            tenant.name,
            main_branch.name,
            main_branch.city,
            "Sunil Verma",
            "Pooja Desk",
            "Lakshmi Narayan",
            "Imran Qureshi",
            "Narmada Health LLP",
            "12 MG Road, Pune",
            "Paracetamol 650 mg, strip of 15",
            "Retired teacher",
            "Hall",
            owner.name,
            doctor.specialty,
        },
    )
    made.members = {
        "desk": hindi_member(tenant, desk),
        "owner": hindi_member(tenant, owner),
        "doctor": hindi_member(tenant, doctor.user),
        "display": Client(HTTP_HOST=f"{tenant.slug}.localhost"),
    }
    unknown = payment_row("pay_ZZunknown0042", "1500.00", "0.00", "0.00", "1500.00")
    made.members["owner"].post(
        "/reception/settlements/",
        {"kind": "gateway", "file": SimpleUploadedFile("r.csv", report(unknown))},
    )
    return made


def test_every_staff_page_in_hindi_shows_no_english(clinic: Clinic) -> None:
    staff_pages = [page for page in pages.PAGES if page.who != "anyone"]
    left: dict[str, list[str]] = {}
    for page in staff_pages:
        answer = clinic.members[page.who].get(page.path(clinic.seed), follow=True)
        html = answer.content.decode()
        assert answer.status_code == 200, page.name
        assert '<html lang="hi"' in html, page.name
        if runs := english_runs(html, clinic.data):
            left[page.name] = runs

    assert len(staff_pages) >= 30
    total = sum(len(runs) for runs in left.values())
    assert left == {}, f"{total} English runs on {len(left)} pages:\n" + "\n".join(
        f"{name}: {runs}" for name, runs in left.items()
    )


def test_the_set_up_confirmations_read_in_hindi(clinic: Clinic, main_branch: Branch) -> None:
    """What the owner's set-up says after each step (the pages it lands on, with the
    confirmation on top): no English but the names the owner typed."""
    owner = clinic.members["owner"]
    branch = f"/setup/branches/{main_branch.pk}/"
    doctor = f"/setup/doctors/{clinic.seed['doctor']}/"
    hours = {"hours_mon_1_start": "09:00", "hours_mon_1_end": "13:00"}
    branch_fields = {
        "city": "Pune",
        "address": "4 FC Road",
        "phone": "+91 20 2345 6789",
        "timezone": "Asia/Kolkata",
    }
    steps = {
        "branch added": ("/setup/branches/new/", {"name": "Kothrud", **branch_fields}),
        "branch saved": (branch, {"name": main_branch.name, **branch_fields}),
        "closure added": (f"{branch}closures/", {"day": "2027-01-26", "reason": "Republic Day"}),
        "leave added": (
            f"{doctor}leave/",
            {"start_date": "2027-01-11", "end_date": "2027-01-12", "reason": "Conference"},
        ),
        "doctor added": (
            "/setup/doctors/new/",
            {
                "name": "Dr. Meera Iyer",
                "specialty": "Paediatrics",
                "branch": main_branch.pk,
                "consultation_fee": "700",
                "slot_minutes": "15",
                **hours,
            },
        ),
        "staff invited": (
            "/setup/staff/",
            {
                "name": "Ritu Sharma",
                "email": "ritu@example.com",
                "role": "receptionist",
                "branches": [main_branch.pk],
            },
        ),
        "billing saved": (
            "/setup/billing/",
            {
                "form": "settings",
                "cancellation_policy": "credit",
                "no_show_fee": "100",
                "no_show_deposit": "0",
            },
        ),
        "tax added": ("/setup/billing/", {"form": "tax", "name": "CGST", "rate": "9"}),
    }
    typed = {"Kothrud", "4 FC Road", "Pune", "Republic Day", "Conference", "Meera Iyer"}
    typed |= {"Paediatrics", "Ritu Sharma", "ritu@example.com"}
    left: dict[str, list[str]] = {}
    for step, (path, form) in steps.items():
        answer = owner.post(path, form, follow=True)
        html = answer.content.decode()
        assert answer.status_code == 200 and answer.redirect_chain, (step, answer.status_code)
        assert 'class="messages"' in html or 'role="status"' in html, step
        if runs := english_runs(html, clinic.data | typed):
            left[step] = runs
    closure = owner.get(f"{branch}closures/").content.decode()
    removed = re.search(r'action="([^"]+/remove/)"', closure)
    assert removed is not None
    after = owner.post(removed.group(1), follow=True).content.decode()
    if runs := english_runs(after, clinic.data | typed):
        left["closure removed"] = runs

    total = sum(len(runs) for runs in left.values())
    assert left == {}, f"{total} English runs after {len(left)} steps:\n" + "\n".join(
        f"{name}: {runs}" for name, runs in left.items()
    )


HINDI_BROWSER = "hi-IN,hi;q=0.9,en;q=0.8"


def test_every_signed_out_page_for_a_hindi_browser_shows_no_english(
    tenant: Tenant, main_branch: Branch, owner: User
) -> None:
    """The sign-in, password-reset and sign-up pages, and what they answer to wrong input, and
    the sign-up e-mail's confirmation link (used and refused), for a visitor whose browser asks
    for Hindi first."""
    site = HostClient(f"{tenant.slug}.localhost", HTTP_ACCEPT_LANGUAGE=HINDI_BROWSER)
    public = HostClient("localhost", HTTP_ACCEPT_LANGUAGE=HINDI_BROWSER)
    uid, token = (
        urlsafe_base64_encode(force_bytes(owner.pk)),
        default_token_generator.make_token(owner),
    )
    link = f"/password-reset/{uid}/{token}/"
    # The web address's example in the sign-up form: an address is written in Latin letters.
    # (What the visitor typed comes back only in the fields' values, which are not read.)
    typed = {"sunrise-clinic"}
    answers = {
        page.name: site.get(page.path({}), follow=True)
        for page in pages.PAGES
        if page.who == "anyone"
    }
    answers["sign-in refused"] = site.post(
        "/login/", {"username": owner.email, "password": "wrong-guess-00"}
    )
    answers["reset address refused"] = site.post("/password-reset/", {"email": "not an email"})
    answers["reset link used"] = site.get("/password-reset/MQ/not-a-token/", follow=True)
    chosen = site.get(link, follow=True)
    answers["new password"] = chosen
    answers["new password refused"] = site.post(
        chosen.redirect_chain[-1][0], {"new_password1": "12345", "new_password2": "12346"}
    )
    answers["sign-up"] = public.get("/signup/")
    answers["sign-up refused"] = public.post(
        "/signup/",
        {
            "clinic_name": "Sunrise Clinic",
            "slug": "admin",
            "kind": "clinic",
            "owner_name": "Nisha Verma",
            "owner_email": "nisha@sunrise",
            "owner_password": "12345",
            "timezone": "Asia/Kolkata",
            "currency": "INR",
        },
    )
    answers["clinic open"] = public.get(f"/verify-email/{verification_token(tenant)}/")
    assert answers["clinic open"].status_code == 200
    answers["confirmation link refused"] = public.get("/verify-email/not-a-token/")
    typed |= {tenant.name}
    left: dict[str, list[str]] = {}
    for name, answer in answers.items():
        html = answer.content.decode()
        assert answer.status_code in (200, 400), (name, answer.status_code)
        assert '<html lang="hi"' in html, name
        if runs := english_runs(html, typed):
            left[name] = runs

    assert len(answers) == 13
    total = sum(len(runs) for runs in left.values())
    assert left == {}, f"{total} English runs on {len(left)} pages:\n" + "\n".join(
        f"{name}: {runs}" for name, runs in left.items()
    )
