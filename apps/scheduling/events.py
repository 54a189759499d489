"""The event types scheduling appends: one name each, for producers and consumers alike.

The strings are the contract of the event log: stored events carry them and replay reads
them back, so a value here never changes (a new meaning gets a new name).
"""

DOCTOR_ADDED = "DoctorAdded"
DOCTOR_UPDATED = "DoctorUpdated"
DOCTOR_LEAVE_GRANTED = "DoctorLeaveGranted"
DOCTOR_LEAVE_REMOVED = "DoctorLeaveRemoved"
BRANCH_CLOSED = "BranchClosed"
BRANCH_REOPENED = "BranchReopened"
PATIENT_REGISTERED = "PatientRegistered"
PATIENT_ERASED = "PatientErased"
PATIENT_UPDATED = "PatientUpdated"
PATIENT_MERGED = "PatientMerged"
NO_SHOW_POLICY_CHANGED = "NoShowPolicyChanged"
SCHEDULING_SETTINGS_CHANGED = "SchedulingSettingsChanged"

APPOINTMENT_BOOKED = "AppointmentBooked"
APPOINTMENT_RESCHEDULED = "AppointmentRescheduled"
APPOINTMENT_CANCELLED = "AppointmentCancelled"
APPOINTMENT_CHECKED_IN = "AppointmentCheckedIn"
APPOINTMENT_COMPLETED = "AppointmentCompleted"
APPOINTMENT_MARKED_NO_SHOW = "AppointmentMarkedNoShow"
APPOINTMENT_NO_SHOW_UNDONE = "AppointmentNoShowUndone"

# Every one of these carries the appointment's whole current row (no PHI), so a reader
# that folds the latest of them per appointment has the appointment as it stands.
APPOINTMENT_ROW_EVENTS = frozenset(
    {
        APPOINTMENT_BOOKED,
        APPOINTMENT_RESCHEDULED,
        APPOINTMENT_CANCELLED,
        APPOINTMENT_CHECKED_IN,
        APPOINTMENT_COMPLETED,
        APPOINTMENT_MARKED_NO_SHOW,
        APPOINTMENT_NO_SHOW_UNDONE,
    }
)

WAITLIST_JOINED = "WaitlistJoined"
WAITLIST_LEFT = "WaitlistLeft"
WAITLIST_OFFERED = "WaitlistOffered"
WAITLIST_OFFER_EXPIRED = "WaitlistOfferExpired"
WAITLIST_FULFILLED = "WaitlistFulfilled"
SLOT_HELD = "SlotHeld"
SLOT_HOLD_CONSUMED = "SlotHoldConsumed"
SLOT_HOLD_EXPIRED = "SlotHoldExpired"
SLOT_HOLD_RELEASED = "SlotHoldReleased"
