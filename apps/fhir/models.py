"""FHIR bulk exports: the one thing this app stores. The resources themselves are a view of
scheduling's and clinic's rows (`apps.fhir.resources`), never a copy kept here."""

import uuid
from typing import Any, ClassVar

from django.db import models

from apps.clinic.models import User
from apps.eventstore.models import EventSourcedModel


class BulkExport(EventSourcedModel):
    """One `$export` request: running → complete | failed, and cancelled by its DELETE.

    Its NDJSON files are sealed with a key of their own (wrapped by the tenant's key, like a
    patient's); cancelling destroys the key and the files, so what was exported can no
    longer be read even from a copy of the disk.
    """

    stream_type = "fhir-export"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    # status → the states it may move to (the task finishes it; its DELETE cancels it).
    TRANSITIONS: ClassVar[dict[str, tuple[str, ...]]] = {
        Status.RUNNING: (Status.COMPLETE, Status.FAILED, Status.CANCELLED),
        Status.COMPLETE: (Status.CANCELLED,),
        Status.FAILED: (Status.CANCELLED,),
        Status.CANCELLED: (),
    }

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    # Resource types asked for (`_type`), in the order their files are written.
    types = models.JSONField(default=list)
    since = models.DateTimeField(null=True, blank=True)
    # The kick-off URL, repeated in the manifest as the bulk data specification asks.
    request_url = models.CharField(max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    wrapped_key = models.BinaryField(null=True, editable=False)
    key_version = models.PositiveSmallIntegerField(default=1, editable=False)
    # [{"type": "Patient", "count": 12}, ...] once complete.
    output = models.JSONField(default=list)
    # The kind of failure (an exception's class name), never data.
    error = models.CharField(max_length=120, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"FHIR export {self.uid} ({self.status})"

    def event_data(self, **extra: Any) -> dict[str, Any]:
        return {"uid": str(self.uid), "status": self.status, "types": self.types, **extra}
