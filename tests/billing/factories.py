"""Billing test data, made through the commands (the ledger is event-sourced)."""

from decimal import Decimal
from typing import Any

import factory

from apps.billing import commands
from apps.billing.models import Payment, Refund


class PaymentFactory(factory.Factory):
    """Money taken for `appointment`: a cash deposit unless told otherwise."""

    class Meta:
        model = Payment

    kind = Payment.Kind.DEPOSIT
    amount = Decimal("100.00")
    method = "cash"

    @classmethod
    def _create(cls, model_class: type[Payment], **kwargs: Any) -> Payment:
        return commands.payment_take(actor=None, **kwargs)


class RefundFactory(factory.Factory):
    """Money paid back from `payment`, by its own method."""

    class Meta:
        model = Refund

    amount = Decimal("50.00")
    reason = "Paid twice"

    @classmethod
    def _create(cls, model_class: type[Refund], **kwargs: Any) -> Refund:
        return commands.payment_refund(actor=None, **kwargs)
