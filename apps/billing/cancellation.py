"""Billing's part of a cancellation: the deposit policy runs in the cancel command's
transaction, and the cancellation event records which policy applied to how much."""

from typing import Any

from apps.billing.commands import settle_cancellation
from apps.scheduling.commands import on_cancellation


@on_cancellation("deposit")
def settle_deposit(**kwargs: Any) -> dict[str, str]:
    return settle_cancellation(**kwargs)
