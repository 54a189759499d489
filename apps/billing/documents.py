"""GST documents of a bill: which charge goes on which document, numbering, credit notes.

A bill's exempt supplies go on a Bill of Supply and its taxable ones on a Tax Invoice; a visit
with both gets both (docs/BILLING-GST.md says why). When the bill later goes down (a line
withdrawn, a discount, a cancellation), a credit note against each document that held the
reduced lines takes the difference off, at the document's own rates. These functions run
inside the billing commands (`apps.billing.commands`), which hold the locks.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext_noop

from apps.billing import events, gst
from apps.billing.models import GstDocument, GstRate, GstSupplier, Invoice
from apps.billing.money import NOT_CHARGES, TAXED, ZERO
from apps.clinic.models import Branch
from apps.core.db import connection
from apps.core.errors import Conflict
from apps.eventstore.models import Actor

SERIES = {
    GstDocument.Kind.BILL_OF_SUPPLY: "BOS",
    GstDocument.Kind.TAX_INVOICE: "TI",
    GstDocument.Kind.CREDIT_NOTE: "CN",
}
SALES = (GstDocument.Kind.BILL_OF_SUPPLY, GstDocument.Kind.TAX_INVOICE)

NEW_COUNTER = """
INSERT INTO billing_gstdocumentcounter (gstin, series, financial_year, last_number)
VALUES (%(gstin)s, %(series)s, %(year)s, 0)
ON CONFLICT (gstin, series, financial_year) DO NOTHING
"""
NEXT_NUMBER = """
UPDATE billing_gstdocumentcounter SET last_number = last_number + 1
WHERE gstin = %(gstin)s AND series = %(series)s AND financial_year = %(year)s
RETURNING last_number
"""


@dataclass(frozen=True)
class Supply:
    """One charge of a bill as GST sees it; `value` is what the patient pays for it now
    (tax included, after discounts; 0 once withdrawn)."""

    line: int
    category: str
    description: str
    code: str
    quantity: Decimal
    unit_price: Decimal
    value: Decimal


def supplies_of(lines: list[dict[str, str]]) -> list[Supply]:
    """The bill's charges with their share of its discounts, which come off the
    consultation first, as `apps.billing.money.reprice` takes them."""
    if any(line["kind"] == "tax" for line in lines):
        raise Conflict(
            gettext_noop(
                "This bill carries the clinic's own consultation tax (tax rules), which GST "
                "documents do not use: issue GST documents for bills without tax rules."
            )
        )
    discount = -sum((Decimal(line["amount"]) for line in lines if line["kind"] == "discount"), ZERO)
    charges = [(index, line) for index, line in enumerate(lines) if line["kind"] not in NOT_CHARGES]
    values: dict[int, Decimal] = {}
    for index, line in sorted(charges, key=lambda entry: (entry[1]["kind"] not in TAXED, entry[0])):
        amount = ZERO if line.get("withdrawn") else Decimal(line["amount"])
        off = min(discount, amount)
        discount -= off
        values[index] = amount - off
    supplies = []
    for index, line in charges:
        category = line.get("category") or gst.KIND_CATEGORY[line["kind"]]
        supplies.append(
            Supply(
                line=index,
                category=category,
                description=line["description"],
                code=line.get("code") or gst.CATEGORIES[category].code,
                quantity=Decimal(line.get("quantity", "1")),
                unit_price=Decimal(line.get("unit_price", line["amount"])),
                value=values[index],
            )
        )
    return supplies


def tenant_rates() -> list[gst.Rate]:
    return [
        gst.Rate(row.category, row.rate, row.effective_from, row.taxable_above)
        for row in GstRate.objects.all()
    ]


def supplier_for(branch_id: int) -> GstSupplier:
    """The branch's own GST registration, else the tenant's."""
    suppliers = {row.branch_id: row for row in GstSupplier.objects.filter(branch_id=branch_id)}
    supplier = suppliers.get(branch_id) or GstSupplier.objects.filter(branch__isnull=True).first()
    if supplier is None:
        raise Conflict(
            gettext_noop(
                "Enter the clinic's GST registration (legal name, GSTIN, address) before issuing "
                "GST documents."
            )
        )
    return supplier


def local_today(branch: Branch) -> date:
    return timezone.now().astimezone(ZoneInfo(branch.timezone)).date()


def _split_of(document_line: dict[str, str]) -> gst.Split:
    return gst.Split(*(Decimal(document_line[key]) for key in ("taxable", "cgst", "sgst", "igst")))


def _line(supply: Supply, rate: Decimal, figures: gst.Split) -> dict[str, str]:
    return {
        "line": str(supply.line),
        "description": supply.description,
        "code": supply.code,
        "quantity": str(supply.quantity),
        "unit_price": str(supply.unit_price),
        "rate": f"{rate.normalize():f}",
        "taxable": str(figures.taxable),
        "cgst": str(figures.cgst),
        "sgst": str(figures.sgst),
        "igst": str(figures.igst),
        "total": str(figures.total),
    }


def take_number(gstin: str, series: str, year: int) -> int:
    """The series' next number for the year; the counter row stays locked until commit, so
    concurrent issues wait and numbers have no gaps (a rolled-back issue gives its back)."""
    params = {"gstin": gstin, "series": series, "year": year}
    with connection.cursor() as cursor:
        cursor.execute(NEW_COUNTER, params)
        cursor.execute(NEXT_NUMBER, params)
        (number,) = cursor.fetchone()
    return int(number)


def _issue(
    *,
    actor: Actor | None,
    invoice: Invoice,
    kind: str,
    day: date,
    supplier: dict[str, str],
    recipient_name: str,
    recipient_gstin: str,
    place_of_supply: str,
    lines: list[dict[str, str]],
    original: GstDocument | None = None,
) -> GstDocument:
    series = SERIES[GstDocument.Kind(kind)]
    year = gst.financial_year(day)
    sequence = take_number(supplier["gstin"], series, year)
    number = gst.document_number(series, year, sequence)
    if len(number) > gst.MAX_NUMBER_LENGTH:
        raise Conflict(f"The {series} series of {year} is full.")
    sums = {
        key: sum((Decimal(line[key]) for line in lines), ZERO)
        for key in ("taxable", "cgst", "sgst", "igst", "total")
    }
    document = GstDocument(
        invoice=invoice,
        branch_id=invoice.branch_id,
        kind=kind,
        series=series,
        financial_year=year,
        sequence=sequence,
        number=number,
        date=day,
        supplier_legal_name=supplier["legal_name"],
        supplier_gstin=supplier["gstin"],
        supplier_address=supplier["address"],
        supplier_state=supplier["gstin"][:2],
        place_of_supply=place_of_supply,
        recipient_name=recipient_name,
        recipient_gstin=recipient_gstin,
        original=original,
        lines=lines,
        currency=invoice.currency,
        **sums,
    )
    # Descriptions (a medicine's name) and the recipient's name stay in the row.
    document.record(
        events.GST_DOCUMENT_ISSUED,
        {
            "invoice_id": invoice.pk,
            "appointment_id": invoice.appointment_id,
            "branch_id": invoice.branch_id,
            "kind": kind,
            "number": number,
            "date": day.isoformat(),
            "financial_year": year,
            "supplier_gstin": supplier["gstin"],
            "place_of_supply": place_of_supply,
            "recipient_gstin": recipient_gstin,
            "original_id": original.pk if original else None,
            "currency": invoice.currency,
            "lines": [
                {key: value for key, value in line.items() if key != "description"}
                for line in lines
            ],
            **{key: str(value) for key, value in sums.items()},
        },
        actor=actor,
    )
    document.save()
    return document


def issue(
    *,
    actor: Actor | None,
    invoice: Invoice,
    recipient_name: str,
    recipient_gstin: str,
    place_of_supply: str,
) -> list[GstDocument]:
    """Issues a Bill of Supply for the bill's exempt charges and a Tax Invoice for its taxable
    ones, at the rates in force today, for every charge no document holds yet. Later
    documents of a bill keep the recipient and place of supply of its first."""
    if invoice.status == Invoice.Status.VOID:
        raise Conflict(gettext_noop("A void bill gets no GST documents."))
    first = invoice.gst_documents.filter(kind__in=SALES).order_by("id").first()
    if first is not None:
        recipient_name, recipient_gstin = first.recipient_name, first.recipient_gstin
        place_of_supply = first.place_of_supply
    documented = {
        int(line["line"])
        for document in invoice.gst_documents.filter(kind__in=SALES)
        for line in document.lines
    }
    supplies = [
        supply
        for supply in supplies_of(invoice.lines)
        if supply.line not in documented and supply.value > ZERO
    ]
    if not supplies:
        raise Conflict(gettext_noop("Every charge on this bill is already on a GST document."))
    registration = supplier_for(invoice.branch_id)
    supplier = {
        "legal_name": registration.legal_name,
        "gstin": registration.gstin,
        "address": registration.address,
    }
    place_of_supply = place_of_supply or (recipient_gstin[:2] if recipient_gstin else "")
    place_of_supply = place_of_supply or registration.state
    inter_state = place_of_supply != registration.state
    day = local_today(invoice.branch)
    rates = tenant_rates()
    by_kind: dict[str, list[dict[str, str]]] = defaultdict(list)
    for supply in supplies:
        rate = gst.rate_on(supply.category, day, rates).applies_to(supply.unit_price)
        kind = GstDocument.Kind.TAX_INVOICE if rate > ZERO else GstDocument.Kind.BILL_OF_SUPPLY
        figures = gst.split(supply.value, rate, inter_state=inter_state)
        by_kind[kind].append(_line(supply, rate, figures))
    return [
        _issue(
            actor=actor,
            invoice=invoice,
            kind=kind,
            day=day,
            supplier=supplier,
            recipient_name=recipient_name,
            recipient_gstin=recipient_gstin,
            place_of_supply=place_of_supply,
            lines=by_kind[kind],
        )
        for kind in SALES
        if by_kind[kind]
    ]


def credit_decreases(*, actor: Actor | None, invoice: Invoice) -> list[GstDocument]:
    """Credit notes for what the bill no longer charges of its documented lines: for each
    document, what is left of each line (issued less earlier credit notes) less what the
    line is worth now at that document's rate."""
    originals = list(invoice.gst_documents.filter(kind__in=SALES).order_by("id"))
    if not originals:
        return []
    now = {supply.line: supply.value for supply in supplies_of(invoice.lines)}
    day = local_today(invoice.branch)
    notes = []
    for original in originals:
        credited: dict[str, gst.Split] = defaultdict(lambda: gst.NOTHING)
        for note in original.credit_notes.all():
            for line in note.lines:
                credited[line["line"]] = _split_of(line) + credited[line["line"]]
        lines = []
        for line in original.lines:
            left = _split_of(line) - credited[line["line"]]
            worth = gst.split(
                now.get(int(line["line"]), ZERO),
                Decimal(line["rate"]),
                inter_state=original.inter_state,
            )
            if left.total > worth.total:
                credit = left - worth
                lines.append({**line, **_figures(credit)})
        if lines:
            notes.append(
                _issue(
                    actor=actor,
                    invoice=invoice,
                    kind=GstDocument.Kind.CREDIT_NOTE,
                    day=day,
                    supplier={
                        "legal_name": original.supplier_legal_name,
                        "gstin": original.supplier_gstin,
                        "address": original.supplier_address,
                    },
                    recipient_name=original.recipient_name,
                    recipient_gstin=original.recipient_gstin,
                    place_of_supply=original.place_of_supply,
                    lines=lines,
                    original=original,
                )
            )
    return notes


def _figures(figures: gst.Split) -> dict[str, str]:
    return {
        "taxable": str(figures.taxable),
        "cgst": str(figures.cgst),
        "sgst": str(figures.sgst),
        "igst": str(figures.igst),
        "total": str(figures.total),
    }


def document_view(document: GstDocument) -> dict[str, Any]:
    """A document as the API and the printed page show it."""
    original = document.original
    return {
        "id": document.pk,
        "kind": document.kind,
        "kind_label": document.get_kind_display(),
        "number": document.number,
        "date": document.date,
        "financial_year": f"{document.financial_year}-{(document.financial_year + 1) % 100:02d}",
        "invoice": document.invoice_id,
        "currency": document.currency,
        "supplier": {
            "legal_name": document.supplier_legal_name,
            "gstin": document.supplier_gstin,
            "address": document.supplier_address,
            "state_code": document.supplier_state,
            "state": gst.STATES[document.supplier_state],
        },
        "recipient": {"name": document.recipient_name, "gstin": document.recipient_gstin or None},
        "place_of_supply": {
            "state_code": document.place_of_supply,
            "state": gst.STATES[document.place_of_supply],
        },
        "inter_state": document.inter_state,
        "state_tax_label": "UTGST" if document.supplier_state in gst.UTGST_STATES else "SGST",
        "original": (
            {"id": original.pk, "number": original.number, "date": original.date}
            if original
            else None
        ),
        "lines": document.lines,
        "taxable": document.taxable,
        "cgst": document.cgst,
        "sgst": document.sgst,
        "igst": document.igst,
        "total": document.total,
        "total_in_words": gst.amount_in_words(abs(document.total)),
    }
