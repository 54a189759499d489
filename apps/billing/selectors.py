"""Billing reads, narrowed to what the caller may see."""

from typing import Any

from django.db.models import QuerySet

from apps.billing import ledger
from apps.billing.commands import taxes_for, tenant_currency
from apps.billing.models import GstDocument, Invoice, InvoiceAdjustment, Method, Payment, Refund
from apps.billing.money import ZERO, invoice_lines, totals
from apps.clinic.models import User
from apps.clinic.scoping import scope_to_branches
from apps.scheduling.models import Appointment


def payments_for(user: User) -> QuerySet[Payment]:
    return scope_to_branches(Payment.objects.select_related("invoice", "branch"), user)


def invoices_for(user: User) -> QuerySet[Invoice]:
    return scope_to_branches(Invoice.objects.select_related("appointment", "branch"), user)


def gst_documents_for(user: User) -> QuerySet[GstDocument]:
    return scope_to_branches(GstDocument.objects.select_related("original", "branch"), user)


def gst_document_refs(invoice: Invoice) -> list[dict[str, Any]]:
    """The bill's GST documents, oldest first: what the invoice names of each."""
    return [
        {"id": document.pk, "kind": document.kind, "number": document.number, "date": document.date}
        for document in GstDocument.objects.filter(invoice=invoice).order_by("id")
    ]


def invoice_view(appointment: Appointment) -> dict[str, Any]:
    """The appointment's invoice, or the draft it would get (no number yet) before payment."""
    invoice = Invoice.objects.filter(appointment=appointment).first()
    payments = [
        {
            "id": payment.pk,
            "kind": payment.kind,
            "method": payment.method,
            "method_label": Method(payment.method).label,
            "amount": str(payment.amount),
            "refunded": str(payment.amount - ledger.refundable(payment)),
            "refundable": str(ledger.refundable(payment)),
        }
        for payment in Payment.objects.filter(appointment=appointment).order_by("id")
    ]
    refunds = [
        {
            "id": refund.pk,
            "payment": refund.payment_id,
            "kind": refund.kind,
            "kind_label": refund.get_kind_display(),
            "method": refund.method,
            "method_label": Method(refund.method).label,
            "amount": str(refund.amount),
        }
        for refund in Refund.objects.filter(payment__appointment=appointment).order_by("id")
    ]
    if invoice is not None:
        balance = ledger.balance_of(invoice)
        adjustments = [
            {
                "id": adjustment.pk,
                "kind": adjustment.kind,
                "category": adjustment.category,
                "category_label": adjustment.get_category_display(),
                "number": adjustment.number or None,
                "line": adjustment.line,
                "percent": str(adjustment.percent) if adjustment.percent is not None else None,
                "amount": str(adjustment.amount),
                "total_reduction": str(adjustment.total_reduction),
            }
            for adjustment in InvoiceAdjustment.objects.filter(invoice=invoice).order_by("id")
        ]
        return {
            "id": invoice.pk,
            "number": invoice.number,
            "status": invoice.status,
            "currency": invoice.currency,
            "total": balance.total,
            "tax": balance.tax,
            "paid": balance.paid,
            "refunded": balance.refunded,
            "balance_due": balance.balance_due,
            "overpaid": balance.overpaid,
            "lines": invoice.lines,
            "payments": payments,
            "adjustments": adjustments,
            "refunds": refunds,
            "gst_documents": gst_document_refs(invoice),
        }
    cancelled = appointment.status == Appointment.Status.CANCELLED
    lines = (
        []
        if cancelled
        else invoice_lines(appointment.doctor.consultation_fee, taxes_for(appointment.branch_id))
    )
    total, tax = totals(lines)
    return {
        "id": None,
        "number": None,
        "status": "void" if cancelled else "draft",
        "currency": tenant_currency(),
        "total": total,
        "tax": tax,
        "paid": ZERO,
        "refunded": ZERO,
        "balance_due": total,
        "overpaid": ZERO,
        "lines": lines,
        "payments": payments,
        "adjustments": [],
        "refunds": refunds,
        "gst_documents": [],
    }
