"""The event types the integration node appends (ids and codes only, never PHI)."""

HL7_CHANNEL_ADDED = "Hl7ChannelAdded"
HL7_PATIENT_LINKED = "Hl7PatientLinked"
PATIENT_ADMITTED = "PatientAdmitted"
PATIENT_DISCHARGED = "PatientDischarged"
HL7_MAPPING_DRAFTED = "Hl7MappingDrafted"
HL7_MAPPING_ACTIVATED = "Hl7MappingActivated"
