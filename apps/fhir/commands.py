"""FHIR bulk export commands: request, finish (by its task) and cancel (by its DELETE)."""

from datetime import datetime

from django.utils import timezone

from apps.clinic.access import require_role
from apps.clinic.models import WHOLE_TENANT_ROLES, User
from apps.core.db import connection
from apps.core.errors import Conflict
from apps.core.wakeups import after_commit
from apps.eventstore.store import command
from apps.fhir import events, export
from apps.fhir.models import BulkExport

# Who may export the clinic's whole record.
EXPORTERS = WHOLE_TENANT_ROLES


@command
def bulk_export_request(
    *, actor: User, types: list[str], since: datetime | None, request_url: str
) -> BulkExport:
    """Starts an export; its task writes the files after the commit."""
    from apps.fhir.tasks import run_bulk_export  # the task module imports these commands

    require_role(actor, EXPORTERS)
    job = BulkExport(requested_by=actor, types=types, since=since, request_url=request_url)
    export.new_key(job)
    job.record(events.BULK_EXPORT_REQUESTED, job.event_data(), actor=actor)
    job.save()
    # The callback may run after the schema was switched back: it names the tenant itself.
    headers = {"_schema_name": connection.schema_name}
    after_commit(
        lambda: run_bulk_export.apply_async(args=(job.pk,), headers=headers), what="FHIR export"
    )
    return job


def _move(job: BulkExport, target: str) -> bool:
    """Whether the state machine lets `job` (locked by the caller) move to `target`."""
    return target in BulkExport.TRANSITIONS[BulkExport.Status(job.status)]


@command
def bulk_export_finish(
    *, export_id: int, output: list[dict[str, object]] | None, error: str = ""
) -> BulkExport:
    """The task's end: complete with its `output`, or failed with the kind of `error`. An
    export cancelled meanwhile stays cancelled (and its files go)."""
    job = BulkExport.objects.select_for_update().get(pk=export_id)
    target = BulkExport.Status.FAILED if output is None else BulkExport.Status.COMPLETE
    if not _move(job, target) or job.status != BulkExport.Status.RUNNING:
        if job.status == BulkExport.Status.CANCELLED:
            schema = connection.schema_name
            after_commit(lambda: export.remove(job, schema), what="FHIR export files")
        return job
    job.status, job.finished = target, timezone.now()
    if output is None:
        job.error = error[:120]
        job.record(events.BULK_EXPORT_FAILED, job.event_data(error=job.error), actor=None)
    else:
        job.output = output
        counts = {str(item["type"]): item["count"] for item in output}
        job.record(events.BULK_EXPORT_COMPLETED, job.event_data(counts=counts), actor=None)
    job.save()
    return job


@command
def bulk_export_cancel(*, actor: User, job: BulkExport) -> BulkExport:
    """Cancels a running export or discards a finished one: its key is destroyed, its files
    removed after the commit."""
    require_role(actor, EXPORTERS)
    job = BulkExport.objects.select_for_update().get(pk=job.pk)
    if not _move(job, BulkExport.Status.CANCELLED):
        raise Conflict("This export was already cancelled.")
    job.status, job.wrapped_key = BulkExport.Status.CANCELLED, None
    job.finished = job.finished or timezone.now()
    job.record(events.BULK_EXPORT_CANCELLED, job.event_data(), actor=actor)
    job.save()
    schema = connection.schema_name
    after_commit(lambda: export.remove(job, schema), what="FHIR export files")
    return job
