"""What is metered, from which events: one declarative table. An app whose events are
metered joins with one line (the integration app adds its accepted HL7 message event to
`COUNTERS["hl7_messages"]`)."""

from apps.clinic import events as clinic
from apps.notifications import events as notifications
from apps.scheduling import events as scheduling

# Metric → the event types that each add one to the month's count.
COUNTERS: dict[str, frozenset[str]] = {
    "bookings": frozenset({scheduling.APPOINTMENT_BOOKED}),
    "messages": frozenset({notifications.MESSAGE_SENT}),
    "hl7_messages": frozenset(),
}
# Counters also kept per channel (`data["channel"]` of the event).
BY_CHANNEL = frozenset({"messages"})

# Level → (unit kind, event types that make a unit count, event types that may change it).
DOCTORS = "doctors"
BRANCHES = "branches"
LEVELS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    DOCTORS: (frozenset({scheduling.DOCTOR_ADDED}), frozenset({scheduling.DOCTOR_UPDATED})),
    BRANCHES: (frozenset({clinic.BRANCH_OPENED}), frozenset()),
}

# Every metric, in the order the subscription API lists them.
METRICS = ("doctors", "branches", "bookings", "messages", "hl7_messages")
