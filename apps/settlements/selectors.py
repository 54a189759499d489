"""Reads of settlements: the exception queue, settlements with their figures, the UPI request
for a visit's amount due."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from apps.clinic.models import User
from apps.clinic.scoping import visible_branches
from apps.scheduling.models import Appointment
from apps.settlements import upi
from apps.settlements.commands import settlement_figures
from apps.settlements.models import BranchUpi, ExceptionItem, Settlement


def exceptions_for(user: User, *, status: str = "", kind: str = "") -> QuerySet[ExceptionItem]:
    """Items the user may see: those of their branches and those of no branch (files)."""
    items = ExceptionItem.objects.select_related("branch", "resolved_by")
    if not user.sees_all_branches:
        items = items.filter(branch__in=visible_branches(user)) | items.filter(branch=None)
    if status:
        items = items.filter(status=status)
    if kind:
        items = items.filter(kind=kind)
    return items.order_by("status", "-raised", "-id")


def settlements_with_figures(limit: int = 100) -> list[dict[str, Any]]:
    rows = []
    for settlement in Settlement.objects.select_related("bank_line").order_by("-settled_on", "-id")[
        :limit
    ]:
        figures = settlement_figures(settlement)
        rows.append(
            {
                "id": settlement.pk,
                "settlement_id": settlement.settlement_id,
                "utr": settlement.utr,
                "settled_on": settlement.settled_on,
                "banked_on": settlement.bank_line.date if settlement.bank_line else None,
                **{key: str(value) for key, value in figures.items()},
            }
        )
    return rows


@dataclass(frozen=True)
class UpiRequest:
    uri: str
    svg: str
    vpa: str
    payee: str
    amount: Decimal
    reference: str


def upi_request(appointment: Appointment, invoice: dict[str, Any]) -> UpiRequest | None:
    """The UPI request for what the visit still owes (`invoice` as `invoice_view` gives it),
    at its branch's UPI ID; None when nothing is due or the branch has no UPI ID."""
    account = BranchUpi.objects.filter(branch_id=appointment.branch_id).first()
    if account is None:
        return None
    due = invoice["balance_due"]
    if due <= 0:
        return None
    reference = upi.reference_for(appointment.pk, len(invoice["payments"]) + 1)
    note = f"Invoice {invoice['number']}" if invoice["number"] else f"Visit {appointment.pk}"
    uri = upi.pay_uri(
        vpa=account.vpa, payee=account.payee, amount=due, reference=reference, note=note
    )
    return UpiRequest(
        uri=uri, svg=upi.qr_svg(uri), vpa=account.vpa, payee=account.payee, amount=due,
        reference=reference,
    )  # fmt: skip
