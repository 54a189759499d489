"""The event types notifications appends: one name each, for producers and consumers alike.

The strings are the contract of the event log (stored events carry them, replay reads them
back): a value here never changes.
"""

NOTIFICATION_SETTINGS_CHANGED = "NotificationSettingsChanged"
MESSAGE_SENT = "MessageSent"
