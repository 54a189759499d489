"""Reconciliation test data, made through the commands."""

from decimal import Decimal
from typing import Any

import factory

from apps.reconciliation import commands
from apps.reconciliation.models import Declaration


class DeclarationFactory(factory.Factory):
    """The desk's count for `branch` on `day`: cash unless told otherwise."""

    class Meta:
        model = Declaration

    method = "cash"
    amount = Decimal("500.00")

    @classmethod
    def _create(cls, model_class: type[Declaration], **kwargs: Any) -> Declaration:
        return commands.declaration_make(actor=None, **kwargs)
