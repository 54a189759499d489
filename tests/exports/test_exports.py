"""The tenant's whole record in one archive its owner takes away: encrypted with the owner's
passphrase (age format), with a manifest that `verify_export` checks offline."""

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pyrage
import pytest
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEntry
from apps.clinic.models import Role, User
from apps.eventstore.models import Event
from apps.exports.archive import ExportInvalid, build, verify
from apps.exports.storage import export_path
from apps.plans.commands import subscription_change_status
from apps.scheduling import commands
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.tenants.models import Tenant
from tests.clinic.factories import UserFactory
from tests.clock import ist
from tests.conftest import HostClient, client_for

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def booked(tenant: Tenant, doctor: Doctor, patient: Patient) -> Appointment:
    return commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))


@pytest.fixture
def api(tenant: Tenant, owner: User) -> HostClient:
    return client_for(owner, tenant)


@pytest.fixture
def exported(
    api: HostClient,
    booked: Appointment,
    celery_in_process: None,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    tmp_path: Path,
) -> dict[str, Any]:
    """An export asked for through the API and built by its task; its GET answer."""
    settings.MYMEDIC_EXPORT_DIR = str(tmp_path / "exports")
    with django_capture_on_commit_callbacks(execute=True):
        queued = api.post("/api/v1/exports/", {"passphrase": PASSPHRASE}, format="json")
    assert queued.status_code == 202, queued.content
    assert queued.json()["status"] == "pending"
    answer = api.get(f"/api/v1/exports/{queued.json()['id']}/")
    assert answer.status_code == 200
    return dict(answer.json())


def test_an_owner_s_export_holds_the_whole_record_and_verifies(
    api: HostClient, exported: dict[str, Any], booked: Appointment, patient: Patient
) -> None:
    download = api.get(exported["download"].split("localhost", 1)[1])
    blob = b"".join(download.streaming_content)
    manifest = verify(blob, PASSPHRASE)

    assert exported["status"] == "ready"
    assert (exported["size"], exported["sha256"]) == (len(blob), hashlib.sha256(blob).hexdigest())
    assert download["Cache-Control"] == "no-store"
    assert blob.startswith(b"age-encryption.org/v1\n")
    assert exported["counts"]["events"] == Event.objects.count()
    assert exported["counts"]["appointments"] == Appointment.objects.count() == 1
    assert exported["counts"]["patients"] == Patient.objects.count()
    assert {name: entry["rows"] for name, entry in manifest["files"].items()} == {
        f"{name}.ndjson": count for name, count in exported["counts"].items()
    }
    files = _files(blob)
    patients = [json.loads(line) for line in files["patients.ndjson"].splitlines()]
    # Patients leave decrypted (the point of taking one's data away), never the sealed blobs.
    assert {row["name"] for row in patients} == {patient.name}
    assert "sealed" not in patients[0] and "wrapped_key" not in patients[0]
    events = [json.loads(line) for line in files["events.ndjson"].splitlines()]
    assert [row["position"] for row in events] == list(
        Event.objects.order_by("position").values_list("position", flat=True)
    )
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"export.requested", "export.downloaded"} <= actions


def _files(blob: bytes) -> dict[str, bytes]:
    plain = pyrage.passphrase.decrypt(blob, PASSPHRASE)
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def test_a_tampered_archive_or_a_wrong_passphrase_fails_verification(
    tenant: Tenant, booked: Appointment, tmp_path: Path
) -> None:
    blob = build(tenant.slug, PASSPHRASE).blob
    flipped = bytearray(blob)
    flipped[-20] ^= 0x01
    # Re-encrypted by someone who knows the passphrase, with one event changed.
    files = _files(blob)
    files["events.ndjson"] = files["events.ndjson"].replace(
        b"AppointmentBooked", b"AppointmentBookeD"
    )
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    rewritten = pyrage.passphrase.encrypt(plain.getvalue(), PASSPHRASE)

    assert verify(blob, PASSPHRASE)["tenant"] == tenant.slug
    with pytest.raises(ExportInvalid, match="altered"):
        verify(bytes(flipped), PASSPHRASE)
    with pytest.raises(ExportInvalid, match="passphrase"):
        verify(blob, "not the passphrase at all")
    with pytest.raises(ExportInvalid, match="events.ndjson does not match"):
        verify(rewritten, PASSPHRASE)


def test_the_operator_commands_write_and_verify_an_archive_offline(
    tenant: Tenant, booked: Appointment, tmp_path: Path
) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    out = tmp_path / "acme.tar.gz.age"
    call_command("tenant_export", tenant.slug, "--out", str(out), "--passphrase-file", str(secret),
                 stdout=io.StringIO())  # fmt: skip
    said = io.StringIO()
    call_command("verify_export", str(out), "--passphrase-file", str(secret), stdout=said)

    assert said.getvalue().startswith(f"OK: {tenant.slug}, made ")
    assert "appointments 1" in said.getvalue()
    out.write_bytes(out.read_bytes()[:-1])
    with pytest.raises(CommandError, match="altered"):
        call_command("verify_export", str(out), "--passphrase-file", str(secret))


def test_only_the_owner_exports_with_a_passphrase_of_twelve_characters(
    api: HostClient, tenant: Tenant, exported: dict[str, Any]
) -> None:
    manager = client_for(UserFactory(role=Role.MANAGER), tenant)
    short = api.post("/api/v1/exports/", {"passphrase": "too short"}, format="json")

    assert short.status_code == 400
    assert "12 characters" in short.json()["passphrase"][0]
    assert (
        manager.post("/api/v1/exports/", {"passphrase": PASSPHRASE}, format="json").status_code
        == 403
    )
    assert manager.get(f"/api/v1/exports/{exported['id']}/").status_code == 403
    assert manager.get(f"/api/v1/exports/{exported['id']}/download/").status_code == 403
    missing = api.get("/api/v1/exports/999999/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Export not found."}


def test_the_archive_is_kept_in_the_tenant_s_own_folder_readable_by_the_app_only(
    exported: dict[str, Any], tenant: Tenant
) -> None:
    path = export_path(exported["id"])

    assert path.parent.name == tenant.schema_name
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_an_export_that_cannot_be_written_is_marked_failed_with_its_reason(
    api: HostClient,
    booked: Appointment,
    celery_in_process: None,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    settings.MYMEDIC_EXPORT_DIR = str(blocked)
    with django_capture_on_commit_callbacks(execute=True):
        queued = api.post("/api/v1/exports/", {"passphrase": PASSPHRASE}, format="json")

    answer = api.get(f"/api/v1/exports/{queued.json()['id']}/").json()

    assert (answer["status"], answer["download"]) == ("failed", None)
    assert answer["error"].startswith(("FileExistsError", "NotADirectoryError"))


def test_a_suspended_clinic_still_takes_its_record_away(
    api: HostClient,
    tenant: Tenant,
    booked: Appointment,
    celery_in_process: None,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.MYMEDIC_EXPORT_DIR = str(tmp_path / "exports")
    subscription_change_status(actor="ops@mymedic.example.com", tenant=tenant, to="suspended")
    refused = api.post("/api/v1/branches/", {"name": "Juhu"}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        queued = api.post("/api/v1/exports/", {"passphrase": PASSPHRASE}, format="json")

    assert refused.status_code == 402
    assert queued.status_code == 202
    assert api.get(f"/api/v1/exports/{queued.json()['id']}/").json()["status"] == "ready"
