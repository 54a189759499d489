"""The desk's GST pages: items and issuing on the visit's GST page, the printable document,
and the manager's GSTR-1 download in the admin."""

from decimal import Decimal

import pytest

from apps.billing import commands as billing
from apps.billing.models import GstDocument
from apps.clinic.commands import staff_create
from apps.clinic.models import Branch, Role, User
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.tenants.models import Tenant
from tests.clinic.factories import STAFF_PASSWORD, BranchFactory, UserFactory
from tests.clock import ist
from tests.conftest import HostClient

pytestmark = pytest.mark.usefixtures("monday_morning")


@pytest.fixture
def visit(tenant: Tenant, doctor: Doctor, patient: Patient) -> Appointment:
    billing.gst_supplier_set(
        actor=None,
        legal_name="Acme Health Private Limited",
        gstin="27AAPFU0939F1ZV",
        address="12 Hill Road, Mumbai",
    )
    return commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))


def gst_page(visit: Appointment) -> str:
    return f"/reception/branches/{visit.branch_id}/appointments/{visit.pk}/gst/"


def test_the_desk_adds_medicines_issues_and_prints_the_documents(
    api: HostClient, owner: User, visit: Appointment
) -> None:
    api.force_login(owner)

    added = api.post(
        gst_page(visit),
        {
            "form": "item",
            "item-category": "pharmacy",
            "item-description": "Paracetamol 650 mg",
            "item-quantity": "3",
            "item-unit_price": "35.00",
        },
    )
    issued = api.post(gst_page(visit), {"form": "issue", "issue-recipient_name": ""})
    page = api.get(gst_page(visit)).content.decode()
    tax_invoice = GstDocument.objects.get(kind="tax_invoice")
    printed = api.get(f"/reception/gst-documents/{tax_invoice.pk}/")

    assert (added.status_code, issued.status_code) == (302, 302)
    assert "3004" in page and "999312" in page
    assert "Bill of Supply BOS/2627/000001" in page and "Tax Invoice TI/2627/000001" in page
    assert printed.status_code == 200
    html = printed.content.decode()
    # 3 × 35.00 = 105.00 at 5%: 100.00 taxable, 2.50 CGST, 2.50 SGST.
    for text in ("TI/2627/000001", "27AAPFU0939F1ZV", "Maharashtra (27)", "Paracetamol 650 mg"):
        assert text in html
    assert ("₹100.00" in html, "₹2.50" in html, "₹105.00" in html) == (True, True, True)
    assert "Rupees One Hundred Five only" in html
    assert "/static/css/gst.css" in html and "data-print" in html


def test_an_item_with_no_price_is_shown_again_with_its_error(
    api: HostClient, owner: User, visit: Appointment
) -> None:
    api.force_login(owner)

    response = api.post(
        gst_page(visit),
        {
            "form": "item",
            "item-category": "pharmacy",
            "item-description": "ORS",
            "item-quantity": "1",
        },
    )

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_issuing_without_a_registration_says_what_to_do(
    api: HostClient, owner: User, doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    billing.payment_take(
        actor=None, appointment=visit, kind="deposit", amount=Decimal("100.00"), method="cash"
    )
    api.force_login(owner)

    response = api.post(gst_page(visit), {"form": "issue"})

    assert response.status_code == 400
    assert "GST registration" in response.content.decode()


def test_issuing_on_a_draft_bill_says_what_to_do_first(
    api: HostClient, owner: User, visit: Appointment
) -> None:
    api.force_login(owner)

    response = api.post(gst_page(visit), {"form": "issue"})

    assert response.status_code == 400
    assert "The bill is still a draft" in response.content.decode()


def test_the_gst_pages_keep_to_the_users_branches_and_role(
    api: HostClient, owner: User, visit: Appointment, main_branch: Branch
) -> None:
    payment = billing.payment_take(
        actor=None, appointment=visit, kind="deposit", amount=Decimal("100.00"), method="cash"
    )
    (document,) = billing.gst_documents_issue(actor=None, invoice=payment.invoice)
    printed = f"/reception/gst-documents/{document.pk}/"

    assert api.get(printed).status_code == 302  # sign in first
    api.force_login(UserFactory(role=Role.RECEPTIONIST, branches=[BranchFactory()]))
    assert api.get(printed).status_code == 404
    api.force_login(UserFactory(role=Role.DOCTOR, branches=[main_branch]))
    assert (api.get(printed).status_code, api.get(gst_page(visit)).status_code) == (403, 403)


def test_a_manager_downloads_the_months_gstr1_csv_from_the_admin(
    api: HostClient, owner: User, visit: Appointment, main_branch: Branch
) -> None:
    payment = billing.payment_take(
        actor=None, appointment=visit, kind="deposit", amount=Decimal("100.00"), method="cash"
    )
    billing.gst_documents_issue(actor=None, invoice=payment.invoice)
    api.force_login(owner)

    form = api.get("/admin/billing/gstdocument/gstr1/")
    csv = api.get("/admin/billing/gstdocument/gstr1/?month=2027-01")
    lead = staff_create(
        actor=None,
        name="Lead",
        email="lead@acme.example.com",
        password=STAFF_PASSWORD,
        role=Role.BRANCH_MANAGER,
        branches=[main_branch],
    )
    api.force_login(lead)
    documents = api.get("/admin/billing/gstdocument/")
    refused = api.get("/admin/billing/gstdocument/gstr1/?month=2027-01")

    assert form.status_code == 200 and 'type="month"' in form.content.decode()
    assert csv.status_code == 200
    assert csv["Content-Disposition"] == 'attachment; filename="gstr1-2027-01.csv"'
    rows = csv.content.decode().splitlines()
    assert rows[0].startswith("section,supplier_gstin,document,date")
    assert "exempt,27AAPFU0939F1ZV,,,,,,,intra_state_unregistered,,,,,,,,500.00,," in rows
    assert documents.status_code == 200  # a branch manager sees the branch's documents
    assert refused.status_code == 403  # but not the whole clinic's return
