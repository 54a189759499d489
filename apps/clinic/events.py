"""The event types clinic appends: one name each, for producers and consumers alike.

The strings are the contract of the event log (stored events carry them, replay reads them
back): a value here never changes.
"""

BRANCH_OPENED = "BranchOpened"
BRANCH_UPDATED = "BranchUpdated"
