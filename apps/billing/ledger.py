"""What an appointment's ledger adds up to, derived from its rows every time."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from apps.billing.models import Invoice, Payment, Refund
from apps.billing.money import ZERO, money


@dataclass(frozen=True)
class Balance:
    total: Decimal
    tax: Decimal
    paid: Decimal
    refunded: Decimal

    @property
    def balance_due(self) -> Decimal:
        """What the patient still owes; negative when they paid more than the bill."""
        return money(self.total - self.paid + self.refunded)

    @property
    def overpaid(self) -> Decimal:
        """What was paid beyond the bill and may be paid back (never negative)."""
        return max(money(self.paid - self.refunded - self.total), ZERO)


def _sum(queryset: object) -> Decimal:
    value = queryset.aggregate(s=Sum("amount"))["s"]  # type: ignore[attr-defined]
    return money(value) if value is not None else ZERO


def paid_on(appointment_id: int) -> Decimal:
    return _sum(Payment.objects.filter(appointment_id=appointment_id))


def refunded_on(appointment_id: int) -> Decimal:
    return _sum(Refund.objects.filter(payment__appointment_id=appointment_id))


def refundable(payment: Payment) -> Decimal:
    """What is left of a payment after its earlier refunds."""
    return money(payment.amount - _sum(payment.refunds.all()))


def credit_of(patient_id: int) -> Decimal:
    """A patient's credit: deposits kept as credit, less credit spent on payments."""
    earned = _sum(Refund.objects.filter(payment__patient_id=patient_id, method="credit"))
    spent = _sum(Payment.objects.filter(patient_id=patient_id, method="credit"))
    return money(earned - spent)


def balance_of(invoice: Invoice) -> Balance:
    return Balance(
        total=invoice.total,
        tax=invoice.tax,
        paid=paid_on(invoice.appointment_id),
        refunded=refunded_on(invoice.appointment_id),
    )
