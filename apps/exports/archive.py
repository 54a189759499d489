"""The export archive: the tenant's whole record as NDJSON files with a manifest, in a
gzipped tar encrypted with the owner's passphrase in the `age` format (scrypt), so that any
`age -d` opens it, not only MyMedic; `verify` checks one offline.

Files (one JSON object per line): events, audit (the trail with its hash chain), patients
(decrypted: the point of the export), branches, doctors, appointments, invoices, payments,
refunds, adjustments. `manifest.json` names the format, the tenant, when, and for each file
its rows, bytes and SHA-256.
"""

import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyrage
from django.core.serializers.json import DjangoJSONEncoder

FORMAT = "mymedic-export/1"
MANIFEST = "manifest.json"


class ExportInvalid(Exception):
    """The archive does not open with the passphrase, or does not match its manifest."""


class _Encoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, bytes | memoryview):
            return bytes(o).hex()
        return super().default(o)


def _patients() -> Iterator[dict[str, Any]]:
    from apps.scheduling.models import Patient

    for patient in Patient.objects.order_by("pk").iterator(chunk_size=500):
        yield {
            "id": patient.pk,
            "uid": patient.uid,
            "registered_branch_id": patient.registered_branch_id,
            "language": patient.language,
            "created": patient.created,
            "erased": patient.erased,
            **{field: getattr(patient, field) for field in patient.PHI_FIELDS},
        }


def _rows(
    model: Any, order: str = "pk", exclude: tuple[str, ...] = ()
) -> Callable[[], Iterable[Any]]:
    def rows() -> Iterable[dict[str, Any]]:
        fields = [
            field.attname for field in model._meta.concrete_fields if field.name not in exclude
        ]
        return model.objects.order_by(order).values(*fields).iterator(chunk_size=2000)

    return rows


def record_files() -> dict[str, Callable[[], Iterable[dict[str, Any]]]]:
    """File name → its rows, for the tenant of the current schema."""
    from apps.audit.models import AuditEntry
    from apps.billing.models import Invoice, InvoiceAdjustment, Payment, Refund
    from apps.clinic.models import Branch
    from apps.eventstore.models import Event
    from apps.scheduling.models import Appointment, Doctor

    return {
        "events.ndjson": _rows(Event, "position"),
        "audit.ndjson": _rows(AuditEntry, "id"),
        "patients.ndjson": _patients,
        "branches.ndjson": _rows(Branch),
        "doctors.ndjson": _rows(Doctor),
        "appointments.ndjson": _rows(Appointment),
        "invoices.ndjson": _rows(Invoice),
        "payments.ndjson": _rows(Payment),
        "refunds.ndjson": _rows(Refund),
        "adjustments.ndjson": _rows(InvoiceAdjustment),
    }


def _ndjson(rows: Iterable[dict[str, Any]]) -> tuple[bytes, int]:
    lines = [json.dumps(row, cls=_Encoder, sort_keys=True) for row in rows]
    return ("\n".join(lines) + "\n" if lines else "").encode(), len(lines)


def _add(tar: tarfile.TarFile, name: str, data: bytes, when: datetime) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(when.timestamp()), 0o600
    tar.addfile(info, io.BytesIO(data))


@dataclass(frozen=True)
class Built:
    blob: bytes  # the encrypted archive
    counts: dict[str, int]  # rows per file, by file name without its extension


def build(tenant: str, passphrase: str) -> Built:
    """The encrypted archive of the current schema's tenant (`tenant`: its slug)."""
    now = datetime.now(UTC)
    files, counts, plain = {}, {}, io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w:gz") as tar:
        for name, rows in record_files().items():
            data, count = _ndjson(rows())
            _add(tar, name, data, now)
            files[name] = {
                "rows": count,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            counts[name.removesuffix(".ndjson")] = count
        manifest = {"format": FORMAT, "tenant": tenant, "created": now.isoformat(), "files": files}
        _add(tar, MANIFEST, json.dumps(manifest, indent=2).encode(), now)
    blob = pyrage.passphrase.encrypt(plain.getvalue(), passphrase)
    return Built(blob=blob, counts=counts)


def verify(blob: bytes, passphrase: str) -> dict[str, Any]:
    """Opens the archive and checks every file against the manifest (rows, bytes, SHA-256,
    nothing missing or added); returns the manifest. Needs no database."""
    try:
        plain = pyrage.passphrase.decrypt(blob, passphrase)
    except pyrage.DecryptError as exc:
        raise ExportInvalid(
            "The archive does not open with this passphrase, or it was altered."
        ) from exc
    try:
        with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as tar:
            members = {
                member.name: tar.extractfile(member).read()  # type: ignore[union-attr]
                for member in tar.getmembers()
                if member.isfile()
            }
    except (tarfile.TarError, OSError) as exc:
        raise ExportInvalid(f"The archive is not a readable tar: {exc}") from exc
    if MANIFEST not in members:
        raise ExportInvalid("The archive has no manifest.")
    manifest: dict[str, Any] = json.loads(members.pop(MANIFEST))
    if manifest.get("format") != FORMAT:
        raise ExportInvalid(f"Unknown format {manifest.get('format')!r}; expected {FORMAT}.")
    listed = manifest.get("files", {})
    if set(listed) != set(members):
        missing, extra = set(listed) - set(members), set(members) - set(listed)
        raise ExportInvalid(f"Files do not match the manifest: missing {missing}, extra {extra}.")
    for name, expected in listed.items():
        data = members[name]
        rows = data.count(b"\n")
        found = {"rows": rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        if found != expected:
            raise ExportInvalid(f"{name} does not match the manifest: {found} != {expected}.")
    return manifest
