"""The event types the queue appends: one name each, for producers and consumers alike.

The strings are the contract of the event log: stored events carry them and replay reads
them back, so a value here never changes (a new meaning gets a new name).
"""

PATIENT_CALLED = "PatientCalled"
CONSULTATION_STARTED = "ConsultationStarted"
CONSULTATION_ENDED = "ConsultationEnded"
DOCTOR_ROOM_SET = "DoctorRoomSet"
DISPLAY_LINK_CREATED = "DisplayLinkCreated"
DISPLAY_LINK_REVOKED = "DisplayLinkRevoked"

CONSULTATION_EVENTS = frozenset({PATIENT_CALLED, CONSULTATION_STARTED, CONSULTATION_ENDED})
