"""The bulk export's task: thin, in the tenant's schema (tenant-schemas-celery carries it),
safe to run twice (an export no longer running is left alone)."""

from celery import shared_task

from apps.fhir import export
from apps.fhir.commands import bulk_export_finish
from apps.fhir.models import BulkExport


@shared_task(acks_late=True)
def run_bulk_export(export_id: int) -> str:
    job = BulkExport.objects.select_related("requested_by").get(pk=export_id)
    if job.status != BulkExport.Status.RUNNING:
        return str(job.status)
    try:
        output = export.run(job)
    except Exception as exc:
        bulk_export_finish(export_id=export_id, output=None, error=type(exc).__name__)
        raise
    return str(bulk_export_finish(export_id=export_id, output=output).status)
