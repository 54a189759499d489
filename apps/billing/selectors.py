"""Billing reads, narrowed to what the caller may see."""

from typing import Any

from django.db.models import QuerySet

from apps.billing import ledger
from apps.billing.commands import taxes_for, tenant_currency
from apps.billing.models import Invoice, Payment
from apps.billing.money import ZERO, invoice_lines, totals
from apps.clinic.models import User
from apps.clinic.scoping import scope_to_branches
from apps.scheduling.models import Appointment


def payments_for(user: User) -> QuerySet[Payment]:
    return scope_to_branches(Payment.objects.select_related("invoice", "branch"), user)


def invoice_view(appointment: Appointment) -> dict[str, Any]:
    """The appointment's invoice, or the draft it would get (no number yet) before payment."""
    invoice = Invoice.objects.filter(appointment=appointment).first()
    payments = [
        {
            "id": payment.pk,
            "kind": payment.kind,
            "method": payment.method,
            "amount": str(payment.amount),
            "refunded": str(payment.amount - ledger.refundable(payment)),
        }
        for payment in Payment.objects.filter(appointment=appointment).order_by("id")
    ]
    if invoice is not None:
        balance = ledger.balance_of(invoice)
        return {
            "number": invoice.number,
            "status": invoice.status,
            "currency": invoice.currency,
            "total": balance.total,
            "tax": balance.tax,
            "paid": balance.paid,
            "refunded": balance.refunded,
            "balance_due": balance.balance_due,
            "lines": invoice.lines,
            "payments": payments,
        }
    cancelled = appointment.status == Appointment.Status.CANCELLED
    lines = (
        []
        if cancelled
        else invoice_lines(appointment.doctor.consultation_fee, taxes_for(appointment.branch_id))
    )
    total, tax = totals(lines)
    return {
        "number": None,
        "status": "void" if cancelled else "draft",
        "currency": tenant_currency(),
        "total": total,
        "tax": tax,
        "paid": ZERO,
        "refunded": ZERO,
        "balance_due": total,
        "lines": lines,
        "payments": payments,
    }
