"""Billing's part of scheduling's commands: the deposit policy runs in the cancel command's
transaction, and the cancellation event records which policy applied to how much; a
repeat no-show's booking gets its invoice, with the no-show fee, in the booking's."""

from typing import Any

from apps.billing.commands import charge_no_show_fee, settle_cancellation
from apps.scheduling.commands import on_booking, on_cancellation


@on_booking("no_show_fee")
def add_no_show_fee(**kwargs: Any) -> None:
    charge_no_show_fee(**kwargs)


@on_cancellation("deposit")
def settle_deposit(**kwargs: Any) -> dict[str, str]:
    return settle_cancellation(**kwargs)
