"""The event types reconciliation appends: one name each, for producers and consumers alike.

The strings are the contract of the event log (stored events carry them, replay reads them
back): a value here never changes.
"""

DECLARATION_MADE = "DeclarationMade"
DAILY_CLOSE_SIGNED_OFF = "DailyCloseSignedOff"
RECONCILIATION_TOLERANCE_SET = "ReconciliationToleranceSet"
