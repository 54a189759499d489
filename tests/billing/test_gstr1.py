"""The month's GSTR-1 summary, as the management command writes it, against sums by hand."""

import csv
import io
from datetime import datetime
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command

from apps.billing import commands as billing
from apps.clinic.models import Branch
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Patient
from apps.tenants.models import Tenant
from tests.billing.test_gst_documents import KARNATAKA_BUYER, medicines
from tests.clock import IST, ist
from tests.scheduling.factories import DoctorFactory

pytestmark = pytest.mark.usefixtures("registered")

CLINIC = "27AAPFU0939F1ZV"


@pytest.fixture
def registered(tenant: Tenant) -> None:
    billing.gst_supplier_set(
        actor=None, legal_name="Acme Health Private Limited", gstin=CLINIC, address="Mumbai"
    )


def report(tenant: Tenant, month: str) -> list[dict[str, str]]:
    out = io.StringIO()
    call_command("gstr1", tenant=tenant.slug, month=month, stdout=out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def nonempty(row: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in row.items() if value}


@pytest.fixture
def january(
    registered: None,
    main_branch: Branch,
    patient: Patient,
    monday_morning: time_machine.Coordinates,
) -> list[Appointment]:
    """Four visits: one at the desk (Jan 4), one billed to a company in Karnataka (Jan 5),
    one whose medicines come back (issued Jan 6, credited Jan 7), one billed on 1 February."""
    doctor = DoctorFactory(branch=main_branch)
    visits = [
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(day, 9))
        for day in (4, 5, 6, 7)
    ]
    billing.gst_documents_issue(actor=None, invoice=medicines(visits[0], 2, "105.00"))
    monday_morning.move_to(ist(5, 10))
    billing.gst_documents_issue(
        actor=None,
        invoice=medicines(visits[1], 1, "210.00"),
        recipient_name="Infosys Limited",
        recipient_gstin=KARNATAKA_BUYER,
    )
    monday_morning.move_to(ist(6, 10))
    returned = medicines(visits[2], 4, "105.00")
    billing.gst_documents_issue(actor=None, invoice=returned)
    monday_morning.move_to(ist(7, 10))
    billing.invoice_line_withdraw(actor=None, invoice=returned, line=1, reason="Returned")
    monday_morning.move_to(datetime(2027, 2, 1, 10, tzinfo=IST))
    billing.gst_documents_issue(actor=None, invoice=medicines(visits[3], 1, "105.00"))
    return visits


@pytest.mark.usefixtures("january")
def test_the_january_summary_adds_up_to_the_documents_by_hand(tenant: Tenant) -> None:
    rows = [nonempty(row) for row in report(tenant, "2027-01")]

    common = {"supplier_gstin": CLINIC}
    assert rows == [
        {
            **common,
            "section": "b2b",
            "document": "TI/2627/000002",
            "date": "2027-01-05",
            "recipient_gstin": KARNATAKA_BUYER,
            "place_of_supply": "29",
            "rate": "5",
            "taxable_value": "200.00",
            "igst": "10.00",
            "cgst": "0.00",
            "sgst": "0.00",
        },
        # TI 1 (200 + 5 + 5) + TI 3 (400 + 10 + 10) − its credit note (400 + 10 + 10).
        {
            **common,
            "section": "b2cs",
            "place_of_supply": "27",
            "rate": "5",
            "taxable_value": "200.00",
            "igst": "0.00",
            "cgst": "5.00",
            "sgst": "5.00",
        },
        {
            **common,
            "section": "exempt",
            "supply_type": "inter_state_registered",
            "exempt_value": "500.00",
        },
        {
            **common,
            "section": "exempt",
            "supply_type": "intra_state_unregistered",
            "exempt_value": "1000.00",
        },
        {
            **common,
            "section": "hsn",
            "hsn_sac": "3004",
            "rate": "5",
            "quantity": "7",
            "taxable_value": "400.00",
            "igst": "10.00",
            "cgst": "5.00",
            "sgst": "5.00",
        },
        {
            **common,
            "section": "hsn",
            "hsn_sac": "999312",
            "rate": "0",
            "quantity": "3",
            "taxable_value": "1500.00",
            "igst": "0.00",
            "cgst": "0.00",
            "sgst": "0.00",
        },
        {
            **common,
            "section": "docs",
            "document": "BOS/2627/000001",
            "last_document": "BOS/2627/000003",
            "documents": "3",
        },
        {
            **common,
            "section": "docs",
            "document": "CN/2627/000001",
            "last_document": "CN/2627/000001",
            "documents": "1",
        },
        {
            **common,
            "section": "docs",
            "document": "TI/2627/000001",
            "last_document": "TI/2627/000003",
            "documents": "3",
        },
    ]


@pytest.mark.usefixtures("january")
def test_a_credit_note_is_reported_in_the_month_it_is_issued(tenant: Tenant) -> None:
    february = [nonempty(row) for row in report(tenant, "2027-02")]

    assert [(row["section"], row.get("document")) for row in february] == [
        ("b2cs", None),
        ("exempt", None),
        ("hsn", None),
        ("hsn", None),
        ("docs", "BOS/2627/000004"),
        ("docs", "TI/2627/000004"),
    ]
    assert february[0]["taxable_value"] == "100.00"


def test_a_month_that_is_not_yyyy_mm_is_refused(tenant: Tenant) -> None:
    with pytest.raises(CommandError, match="YYYY-MM"):
        report(tenant, "January")


def test_the_command_writes_a_file_when_told(tenant: Tenant, tmp_path: Any) -> None:
    target = tmp_path / "gstr1.csv"

    call_command("gstr1", tenant=tenant.slug, month="2027-01", output=target, stderr=io.StringIO())

    assert target.read_text(encoding="utf-8").splitlines() == [
        "section,supplier_gstin,document,date,original_document,original_date,recipient_gstin,"
        "place_of_supply,supply_type,hsn_sac,rate,quantity,taxable_value,igst,cgst,sgst,"
        "exempt_value,last_document,documents"
    ]


def test_a_credit_note_to_a_registered_recipient_is_listed_with_its_invoice(
    tenant: Tenant, january: list[Appointment]
) -> None:
    b2b_bill = january[1].invoice
    billing.invoice_line_withdraw(actor=None, invoice=b2b_bill, line=1, reason="Not supplied")

    rows = [nonempty(row) for row in report(tenant, "2027-02") if row["section"] == "cdnr"]

    assert rows == [
        {
            "section": "cdnr",
            "supplier_gstin": CLINIC,
            "document": "CN/2627/000002",
            "date": "2027-02-01",
            "original_document": "TI/2627/000002",
            "original_date": "2027-01-05",
            "recipient_gstin": KARNATAKA_BUYER,
            "place_of_supply": "29",
            "rate": "5",
            "taxable_value": "200.00",
            "igst": "10.00",
            "cgst": "0.00",
            "sgst": "0.00",
        }
    ]
