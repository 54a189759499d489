"""GST documents through the API: items on the bill, issuing, reading; the figures are the
hand-computed ones of test_gst_documents."""

from decimal import Decimal
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.audit.models import AuditEntry
from apps.billing import commands as billing
from apps.clinic.models import Branch, User
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Patient
from apps.tenants.models import Tenant
from tests.billing.test_gst_documents import CLINIC_GSTIN, KARNATAKA_BUYER
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import DoctorFactory


@pytest.fixture
def bill(tenant: Tenant, main_branch: Branch, patient: Patient) -> int:
    billing.gst_supplier_set(
        actor=None, legal_name="Acme Health Private Limited", gstin=CLINIC_GSTIN, address="Mumbai"
    )
    doctor = DoctorFactory(branch=main_branch, consultation_fee=Decimal("500.00"))
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(4, 9))
    payment = billing.payment_take(
        actor=None, appointment=visit, kind="deposit", amount=Decimal("100.00"), method="upi"
    )
    return payment.invoice_id


def add_medicine(desk: HostClient, invoice: int, **body: Any) -> Any:
    item = {
        "category": "pharmacy",
        "description": "Amoxicillin 500 mg",
        "quantity": 2,
        "unit_price": "105.00",
        **body,
    }
    return desk.post(f"/api/v1/invoices/{invoice}/items/", item, format="json")


def test_a_desk_bills_medicines_and_issues_both_documents(
    desk: HostClient, bill: int, owner: User
) -> None:
    added = add_medicine(desk, bill)
    issued = desk.post(
        f"/api/v1/invoices/{bill}/gst-documents/",
        {"recipient_name": "Infosys Limited", "recipient_gstin": KARNATAKA_BUYER},
        format="json",
    )

    assert added.status_code == 201
    assert (added.json()["total"], added.json()["tax"]) == ("710.00", "0.00")
    assert issued.status_code == 201
    supply, tax_invoice = issued.json()["documents"]
    assert (supply["number"], supply["kind"], supply["total"]) == (
        "BOS/2627/000001",
        "bill_of_supply",
        "500.00",
    )
    assert {key: tax_invoice[key] for key in ("number", "taxable", "cgst", "sgst", "igst")} == {
        "number": "TI/2627/000001",
        "taxable": "200.00",
        "cgst": "0.00",
        "sgst": "0.00",
        "igst": "10.00",
    }
    assert tax_invoice["supplier"] == {
        "legal_name": "Acme Health Private Limited",
        "gstin": CLINIC_GSTIN,
        "address": "Mumbai",
        "state_code": "27",
        "state": "Maharashtra",
    }
    assert tax_invoice["recipient"] == {"name": "Infosys Limited", "gstin": KARNATAKA_BUYER}
    assert tax_invoice["place_of_supply"] == {"state_code": "29", "state": "Karnataka"}
    assert tax_invoice["inter_state"] is True
    assert tax_invoice["lines"][0]["code"] == "3004"
    assert issued.json()["position"] > 0


def test_the_invoice_names_its_gst_documents_and_each_reads_back(
    desk: HostClient, bill: int
) -> None:
    add_medicine(desk, bill)
    desk.post(f"/api/v1/invoices/{bill}/gst-documents/", {}, format="json")
    appointment = Appointment.objects.get(invoice__pk=bill)

    invoice = desk.get(f"/api/v1/appointments/{appointment.pk}/invoice/").json()
    refs = invoice["gst_documents"]
    one = desk.get(f"/api/v1/gst-documents/{refs[1]['id']}/")
    listed = desk.get(f"/api/v1/invoices/{bill}/gst-documents/")

    assert [(ref["kind"], ref["number"], ref["date"]) for ref in refs] == [
        ("bill_of_supply", "BOS/2627/000001", "2027-01-04"),
        ("tax_invoice", "TI/2627/000001", "2027-01-04"),
    ]
    assert invoice["number"].startswith("B")  # the bill keeps its own number
    assert one.status_code == 200
    assert (one.json()["number"], one.json()["cgst"], one.json()["sgst"]) == (
        "TI/2627/000001",
        "5.00",
        "5.00",
    )
    assert one.json()["recipient"]["name"] == appointment.patient.name
    assert [document["number"] for document in listed.json()] == [ref["number"] for ref in refs]
    # Each read names the patient: audited.
    assert (
        AuditEntry.objects.filter(
            action="patient.read", target=f"patient:{appointment.patient_id}"
        ).count()
        == 3
    )


def test_a_gstin_with_a_wrong_check_character_is_refused_on_its_field(
    desk: HostClient, bill: int
) -> None:
    response = desk.post(
        f"/api/v1/invoices/{bill}/gst-documents/",
        {"recipient_gstin": "29AAACI1681G1ZM"},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["recipient_gstin"]


def test_issuing_twice_is_a_conflict_and_issues_nothing_more(desk: HostClient, bill: int) -> None:
    first = desk.post(f"/api/v1/invoices/{bill}/gst-documents/", {}, format="json")
    again = desk.post(f"/api/v1/invoices/{bill}/gst-documents/", {}, format="json")

    assert (first.status_code, again.status_code) == (201, 409)
    assert len(desk.get(f"/api/v1/invoices/{bill}/gst-documents/").json()) == 1


def test_another_tenant_cannot_see_a_document(
    desk: HostClient, bill: int, other_tenant: Tenant
) -> None:
    made = desk.post(f"/api/v1/invoices/{bill}/gst-documents/", {}, format="json").json()
    with schema_context(other_tenant.schema_name):
        stranger = client_for(User.objects.get(role="owner"), other_tenant)

    response = stranger.get(f"/api/v1/gst-documents/{made['documents'][0]['id']}/")

    assert response.status_code == 404
