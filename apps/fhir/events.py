"""The event types of FHIR bulk exports: one name each. The strings are the contract of the
event log (stored events carry them): a value here never changes."""

BULK_EXPORT_REQUESTED = "FhirBulkExportRequested"
BULK_EXPORT_COMPLETED = "FhirBulkExportCompleted"
BULK_EXPORT_FAILED = "FhirBulkExportFailed"
BULK_EXPORT_CANCELLED = "FhirBulkExportCancelled"
