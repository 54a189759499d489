"""The month's outward supplies as GSTR-1 sums them, from the GST documents issued in it.

One CSV, one row per figure the return asks for, in sections named as GSTR-1's tables:
`b2b` (tax invoices to registered recipients, by invoice and rate), `b2cl` (to unregistered
recipients in another state above ₹1,00,000, by invoice and rate), `b2cs` (every other tax
invoice, by place of supply and rate, less their credit notes), `cdnr` / `cdnur` (credit notes
of b2b / b2cl invoices), `exempt` (bills of supply less their credit notes, by inter- or
intra-state and registered or not), `hsn` (by HSN/SAC and rate, credit notes taken off) and
`docs` (each series' first and last number and count). Credit notes count in the month they
are issued.
"""

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from apps.billing.models import GstDocument
from apps.billing.money import ZERO

COLUMNS = [
    "section",
    "supplier_gstin",
    "document",
    "date",
    "original_document",
    "original_date",
    "recipient_gstin",
    "place_of_supply",
    "supply_type",
    "hsn_sac",
    "rate",
    "quantity",
    "taxable_value",
    "igst",
    "cgst",
    "sgst",
    "exempt_value",
    "last_document",
    "documents",
]
B2CL_ABOVE = Decimal("100000.00")
AMOUNTS = ("taxable", "igst", "cgst", "sgst")


def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of `YYYY-MM`."""
    first = date.fromisoformat(f"{month}-01")
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)


def _section_of_sale(document: GstDocument) -> str:
    if document.kind == GstDocument.Kind.BILL_OF_SUPPLY:
        return "exempt"
    if document.recipient_gstin:
        return "b2b"
    if document.inter_state and document.total > B2CL_ABOVE:
        return "b2cl"
    return "b2cs"


CREDIT_SECTION = {"b2b": "cdnr", "b2cl": "cdnur"}


def _supply_type(document: GstDocument) -> str:
    where = "inter" if document.inter_state else "intra"
    who = "registered" if document.recipient_gstin else "unregistered"
    return f"{where}_state_{who}"


def _by_rate(document: GstDocument, sign: int) -> dict[str, dict[str, Decimal]]:
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(AMOUNTS, ZERO))
    for line in document.lines:
        for key in AMOUNTS:
            sums[line["rate"]][key] += sign * Decimal(line[key])
    return sums


def _amounts(values: dict[str, Decimal]) -> dict[str, str]:
    return {
        "taxable_value": str(values["taxable"]),
        "igst": str(values["igst"]),
        "cgst": str(values["cgst"]),
        "sgst": str(values["sgst"]),
    }


def rows(first: date, last: date) -> list[dict[str, Any]]:
    """The report's rows for documents dated `first`..`last` (the tenant's whole month)."""
    documents = list(
        GstDocument.objects.filter(date__range=(first, last))
        .select_related("original")
        .order_by("supplier_gstin", "date", "series", "sequence")
    )
    out: list[dict[str, Any]] = []
    b2cs: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(AMOUNTS, ZERO)
    )
    exempt: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    hsn: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys((*AMOUNTS, "quantity"), ZERO)
    )
    for document in documents:
        credit = document.kind == GstDocument.Kind.CREDIT_NOTE
        sale = document.original if credit and document.original else document
        section = _section_of_sale(sale)
        sign = -1 if credit else 1
        for line in document.lines:
            key = (document.supplier_gstin, line["code"], line["rate"])
            for amount in AMOUNTS:
                hsn[key][amount] += sign * Decimal(line[amount])
            if not credit:
                hsn[key]["quantity"] += Decimal(line["quantity"])
        if section == "exempt":
            exempt[(document.supplier_gstin, _supply_type(sale))] += sign * document.total
            continue
        if section == "b2cs":
            for rate, values in _by_rate(document, sign).items():
                target = b2cs[(document.supplier_gstin, document.place_of_supply, rate)]
                for amount in AMOUNTS:
                    target[amount] += values[amount]
            continue
        for rate, values in _by_rate(document, 1).items():
            out.append(
                {
                    "section": CREDIT_SECTION[section] if credit else section,
                    "supplier_gstin": document.supplier_gstin,
                    "document": document.number,
                    "date": document.date.isoformat(),
                    "original_document": sale.number if credit else "",
                    "original_date": sale.date.isoformat() if credit else "",
                    "recipient_gstin": document.recipient_gstin,
                    "place_of_supply": document.place_of_supply,
                    "rate": rate,
                    **_amounts(values),
                }
            )
    for (gstin, place, rate), values in sorted(b2cs.items()):
        out.append(
            {
                "section": "b2cs",
                "supplier_gstin": gstin,
                "place_of_supply": place,
                "rate": rate,
                **_amounts(values),
            }
        )
    for (gstin, supply_type), value in sorted(exempt.items()):
        out.append(
            {
                "section": "exempt",
                "supplier_gstin": gstin,
                "supply_type": supply_type,
                "exempt_value": str(value),
            }
        )
    for (gstin, code, rate), values in sorted(hsn.items()):
        out.append(
            {
                "section": "hsn",
                "supplier_gstin": gstin,
                "hsn_sac": code,
                "rate": rate,
                "quantity": str(values["quantity"].normalize()),
                **_amounts(values),
            }
        )
    out.extend(_series(documents))
    return out


def _series(documents: Iterable[GstDocument]) -> list[dict[str, Any]]:
    runs: dict[tuple[str, str, int], list[GstDocument]] = defaultdict(list)
    for document in documents:
        runs[(document.supplier_gstin, document.series, document.financial_year)].append(document)
    return [
        {
            "section": "docs",
            "supplier_gstin": gstin,
            "document": min(run, key=lambda d: d.sequence).number,
            "last_document": max(run, key=lambda d: d.sequence).number,
            "documents": len(run),
        }
        for (gstin, _, _), run in sorted(runs.items())
    ]


def as_csv(report: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(report)
    return buffer.getvalue()


def month_csv(month: str) -> str:
    """The CSV of `YYYY-MM` for the tenant whose schema is active."""
    return as_csv(rows(*month_bounds(month)))
