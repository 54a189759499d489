"""The bulk export's task: thin, in the tenant's schema (tenant-schemas-celery carries it),
safe to run twice (an export no longer running is left alone)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from apps.fhir import export
from apps.fhir.commands import bulk_export_finish
from apps.fhir.models import BulkExport


@shared_task(acks_late=True)
def run_bulk_export(export_id: int) -> str:
    """Writes the export's files and finishes it; "busy" when another run holds it."""
    job = BulkExport.objects.select_related("requested_by").get(pk=export_id)
    if job.status != BulkExport.Status.RUNNING:
        return str(job.status)
    with export.exclusive(job) as mine:
        if not mine:
            return "busy"
        try:
            output = export.run(job)
        except Exception as exc:
            bulk_export_finish(export_id=export_id, output=None, error=type(exc).__name__)
            raise
    return str(bulk_export_finish(export_id=export_id, output=output).status)


def requeue_if_stalled(job: BulkExport) -> bool:
    """Sends the export's task again when it has run for MYMEDIC_FHIR_EXPORT_REQUEUE_SECONDS
    (its first message may never have reached the broker), at most once per that period; a
    second run while the first still works leaves at once (`export.exclusive`)."""
    wait = settings.MYMEDIC_FHIR_EXPORT_REQUEUE_SECONDS
    if job.status != BulkExport.Status.RUNNING or timezone.now() - job.created < timedelta(
        seconds=wait
    ):
        return False
    if not cache.add(f"fhir-export-requeue:{job.uid}", 1, wait):
        return False
    run_bulk_export.delay(job.pk)
    return True
