"""The event types billing appends: one name each, for producers and consumers alike.

The strings are the contract of the event log (stored events carry them, replay reads them
back): a value here never changes.
"""

BILLING_SETTINGS_CHANGED = "BillingSettingsChanged"
NO_SHOW_CHARGES_CHANGED = "NoShowChargesChanged"
DISCOUNT_CAP_CHANGED = "DiscountCapChanged"
TAX_RULE_ADDED = "TaxRuleAdded"
INVOICE_ISSUED = "InvoiceIssued"
INVOICE_ADJUSTED = "InvoiceAdjusted"
INVOICE_SETTLED_ON_CANCELLATION = "InvoiceSettledOnCancellation"
DISCOUNT_GRANTED = "DiscountGranted"
CREDIT_NOTE_ISSUED = "CreditNoteIssued"
PAYMENT_TAKEN = "PaymentTaken"
REFUND_ISSUED = "RefundIssued"
OVERPAYMENT_REFUNDED = "OverpaymentRefunded"
CONCESSION_REFUNDED = "ConcessionRefunded"
INVOICE_ITEM_ADDED = "InvoiceItemAdded"
GST_SUPPLIER_SET = "GstSupplierSet"
GST_RATE_SET = "GstRateSet"
GST_DOCUMENT_ISSUED = "GstDocumentIssued"

# Money moved back, whatever the kind of refund: every reader of takings asks for all of them.
REFUND_EVENT_TYPES = tuple(sorted((REFUND_ISSUED, OVERPAYMENT_REFUNDED, CONCESSION_REFUNDED)))
# Events of the invoice stream that carry its current `total`; the latest one is the bill.
INVOICE_TOTAL_EVENTS = (INVOICE_ISSUED, INVOICE_ADJUSTED, INVOICE_ITEM_ADDED)
