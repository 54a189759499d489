"""Bulk export files: every resource of a type as NDJSON, sealed in frames on the tenant's
own storage (MYMEDIC_FHIR_EXPORT_DIR/{schema}/{export}/), and read back for download.

A file is a run of frames, each a 4-byte big-endian length and an AES-GCM box of up to
FRAME_LINES lines under the export's own key; each box names its schema, export, type and
frame number, so frames cannot be moved between files or reordered unnoticed.
"""

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from apps.clinic.models import User
from apps.core import crypto, keys
from apps.core.db import connection
from apps.core.replica import reading_from_replica
from apps.eventstore.models import Event
from apps.fhir import resources
from apps.fhir.models import BulkExport
from apps.fhir.search import search
from apps.tenants.models import Tenant

# What `$export` writes, in this order (Slot is computed from hours and has no end).
EXPORT_TYPES = ("Patient", "Practitioner", "Location", "Schedule", "Appointment", "Encounter")
# The streams whose events mean "this resource changed" (for `_since`).
STREAM_OF = {
    "Patient": "patient",
    "Practitioner": "doctor",
    "Schedule": "doctor",
    "Location": "branch",
    "Appointment": "appointment",
    "Encounter": "appointment",
}
FRAME_LINES = 500
ROWS_PER_QUERY = 2000


# pg_try_advisory_lock(class, hashtext(schema:export)): one run of an export at a time.
EXPORT_LOCK_CLASS = 0x46484952  # "FHIR"


@contextmanager
def exclusive(export: BulkExport) -> Iterator[bool]:
    """Whether this session holds the export's run lock (held until the block ends)."""
    key = [EXPORT_LOCK_CLASS, f"{connection.schema_name}:{export.uid}"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", key)
        (locked,) = cursor.fetchone()
    try:
        yield bool(locked)
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", key)


def folder(export: BulkExport, schema: str | None = None) -> Path:
    return (
        Path(settings.MYMEDIC_FHIR_EXPORT_DIR)
        / (schema or connection.schema_name)
        / str(export.uid)
    )


def file_of(export: BulkExport, resource_type: str) -> Path:
    return folder(export) / f"{resource_type}.ndjson.sealed"


def new_key(export: BulkExport) -> None:
    export.key_version, tenant_key = keys.active_tenant_key()
    export.wrapped_key = crypto.seal(tenant_key, crypto.new_key(), _context(export, "key"))


def _context(export: BulkExport, what: str) -> str:
    return f"fhir-export:{what}:{connection.schema_name}:{export.uid}"


def _data_key(export: BulkExport) -> bytes:
    if export.wrapped_key is None:
        raise PermissionError("This export's key was destroyed.")
    return crypto.unseal(
        keys.tenant_key(export.key_version), bytes(export.wrapped_key), _context(export, "key")
    )


def changed_since(resource_type: str, since: datetime) -> set[int]:
    """Ids of `resource_type`'s rows with an event at or after `since`."""
    prefix = f"{STREAM_OF[resource_type]}-"
    streams = Event.objects.filter(
        occurred_at__gte=since, stream__regex=rf"^{re.escape(prefix)}[0-9]+$"
    ).values_list("stream", flat=True)
    return {int(stream[len(prefix) :]) for stream in streams.distinct()}


def everything(
    resource_type: str, actor: User, tenant: Tenant, since: datetime | None
) -> Iterator[dict[str, Any]]:
    """Every resource of a type that `actor` may read (owners and managers: the clinic)."""
    found = search(resource_type, actor, {}, tenant)
    rows = found.rows
    assert isinstance(rows, QuerySet)  # noqa: S101  (only computed slots are lists)
    if since is not None:
        rows = rows.filter(pk__in=changed_since(resource_type, since))
    batch: list[Any] = []
    for row in rows.iterator(ROWS_PER_QUERY):
        batch.append(row)
        if len(batch) == ROWS_PER_QUERY:
            yield from found.render(batch)
            batch = []
    if batch:
        yield from found.render(batch)


def write(export: BulkExport, resource_type: str, items: Iterator[dict[str, Any]]) -> int:
    """Writes one type's file (whole or not at all: it appears by rename); returns its count."""
    key, target = _data_key(export), file_of(export, resource_type)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = target.with_suffix(".partial")
    count = frame = 0
    with open(partial, "wb", opener=lambda path, flags: os.open(path, flags, 0o600)) as out:
        lines: list[bytes] = []
        for item in items:
            lines.append(json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode())
            count += 1
            if len(lines) == FRAME_LINES:
                _frame(out, key, export, resource_type, frame, lines)
                frame, lines = frame + 1, []
        if lines:
            _frame(out, key, export, resource_type, frame, lines)
    partial.rename(target)
    return count


def _frame(out: Any, key: bytes, export: BulkExport, kind: str, n: int, lines: list[bytes]) -> None:
    box = crypto.seal(key, b"\n".join(lines) + b"\n", _context(export, f"{kind}:{n}"))
    out.write(len(box).to_bytes(4, "big") + box)


def read(export: BulkExport, resource_type: str) -> Iterator[bytes]:
    """The type's NDJSON, frame by frame (for a streamed download)."""
    key = _data_key(export)
    with open(file_of(export, resource_type), "rb") as source:
        n = 0
        while header := source.read(4):
            box = source.read(int.from_bytes(header, "big"))
            yield crypto.unseal(key, box, _context(export, f"{resource_type}:{n}"))
            n += 1


def written(export: BulkExport) -> int:
    """How many of the export's files are complete (its progress)."""
    return sum(file_of(export, kind).exists() for kind in export.types)


def remove(export: BulkExport, schema: str) -> None:
    shutil.rmtree(folder(export, schema), ignore_errors=True)


def run(export: BulkExport) -> list[dict[str, Any]]:
    """Writes every file the export asked for; stops early (returns what it wrote) once the
    export is no longer running (cancelled meanwhile)."""
    tenant = resources.current_tenant()
    output = []
    with keys.remembered():
        for resource_type in export.types:
            still = BulkExport.objects.filter(pk=export.pk, status=BulkExport.Status.RUNNING)
            if not still.exists():
                break
            items = everything(resource_type, export.requested_by, tenant, export.since)
            with reading_from_replica():  # the rows are read as `write` consumes them
                count = write(export, resource_type, items)
            output.append({"type": resource_type, "count": count})
    return output
