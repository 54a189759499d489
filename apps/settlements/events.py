"""The event types settlements append: one name each, for producers and consumers alike.

The strings are the contract of the event log (stored events carry them, replay reads them
back): a value here never changes. No event carries a patient's name, phone or a free-text
note: ids, amounts, dates and gateway references only.
"""

SETTLEMENT_SETTINGS_CHANGED = "SettlementSettingsChanged"
# The gateway's webhook secret changed (the event says only that: the secret is sealed).
WEBHOOK_SECRET_SET = "WebhookSecretSet"  # noqa: S105 (an event name, not a secret)
BRANCH_UPI_SET = "BranchUpiSet"
# A file's arrival (before its rows), then its import with what was new in it.
SETTLEMENT_FILE_RECEIVED = "SettlementFileReceived"
SETTLEMENT_FILE_IMPORTED = "SettlementFileImported"
SETTLEMENT_RECORDED = "SettlementRecorded"
# A gateway row matched to our payment: its amount is settled, its fee and the GST on the fee
# are booked (both in the event's data).
GATEWAY_PAYMENT_SETTLED = "GatewayPaymentSettled"
GATEWAY_REFUND_SETTLED = "GatewayRefundSettled"
GATEWAY_ADJUSTMENT_BOOKED = "GatewayAdjustmentBooked"
GATEWAY_ROW_UNMATCHED = "GatewayRowUnmatched"
GATEWAY_ROW_DUPLICATED = "GatewayRowDuplicated"
BANK_LINE_IMPORTED = "BankLineImported"
SETTLEMENT_BANKED = "SettlementBanked"
GATEWAY_PAYMENT_LINKED = "GatewayPaymentLinked"
WEBHOOK_RECEIVED = "PaymentWebhookReceived"
SETTLEMENT_EXCEPTION_RAISED = "SettlementExceptionRaised"
SETTLEMENT_EXCEPTION_RESOLVED = "SettlementExceptionResolved"

# Rows of a gateway file that put money of a payment in the bank, by payment method.
SETTLED_EVENT_TYPES = (GATEWAY_PAYMENT_SETTLED,)
