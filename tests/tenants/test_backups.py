"""A tenant's backup restores whole: beside the original under a new slug, or over itself.

The tenant's data is committed (pg_dump reads it from another connection), so these tests
do not use `db`; each removes what it made.
"""

import io
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context

from apps.audit import anchors
from apps.audit.models import AuditEntry
from apps.core import crypto, keys
from apps.eventstore.models import Event, ProjectionState
from apps.scheduling.models import AppointmentView, Patient
from apps.tenants.backups import schema_exists
from apps.tenants.models import Domain, Tenant
from tests.faults import clinic_day

pytestmark = pytest.mark.slow


def _drop(slug: str) -> None:
    connection.set_schema_to_public()
    for tenant in Tenant.objects.filter(slug=slug):
        tenant.delete(force_drop=True)


def _clinic(slug: str) -> Tenant:
    """A clinic with visits and deposits, its read models caught up."""
    tenant: Tenant = clinic_day.prepare(slug)
    with schema_context(tenant.schema_name):
        for number in range(4):
            clinic_day.visit(number)
    return tenant


@pytest.fixture(scope="module")
def clinic(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Tenant]:
    """A clinic that the tests of this module back up but never change."""
    slug = f"bk-{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        try:
            yield _clinic(slug)
        finally:
            _drop(slug)


@pytest.fixture(scope="module")
def backup(clinic: Tenant, django_db_blocker: Any, tmp_path_factory: Any) -> Path:
    path: Path = tmp_path_factory.mktemp("backups") / "clinic.tar"
    with django_db_blocker.unblock():
        call_command("tenant_backup", clinic.slug, out=path, stdout=io.StringIO())
    return path


@pytest.fixture
def made(django_db_setup: Any, django_db_blocker: Any) -> Iterator[list[str]]:
    """The database, committed; the slugs a test adds to the list are dropped after it."""
    slugs: list[str] = []
    with django_db_blocker.unblock():
        try:
            yield slugs
        finally:
            for slug in slugs:
                _drop(slug)


def _state(tenant: Tenant) -> dict[str, Any]:
    with schema_context(tenant.schema_name):
        patient = Patient.objects.get()
        return {
            "events": list(
                Event.objects.order_by("position").values_list(
                    "position", "stream", "version", "type", "data", "metadata", "occurred_at"
                )
            ),
            "appointments": list(AppointmentView.objects.order_by("pk").values()),
            "positions": dict(ProjectionState.objects.values_list("name", "position")),
            "audit": list(AuditEntry.objects.order_by("id").values_list("id", "hash")),
            "patient": (patient.name, patient.phone),
            "found_by_phone": Patient.objects.filter(
                phone_index__in=keys.phone_indexes("+919812345678")
            ).count(),
        }


def _verify(slug: str) -> str:
    out = io.StringIO()
    call_command("verify_audit", tenant=[slug], stdout=out)
    call_command("replay", tenant=[slug], check=True, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_backup_restored_under_a_new_slug_beside_the_original_is_the_same_tenant(
    clinic: Tenant, made: list[str], tmp_path: Path
) -> None:
    backup = tmp_path / "clinic.tar"
    out = io.StringIO()
    call_command("tenant_backup", clinic.slug, out=backup, stdout=out)
    assert "dumping schema" in out.getvalue() and "sha256" in out.getvalue()
    copy = f"{clinic.slug}-copy"
    made.append(copy)

    call_command("tenant_restore", backup, as_slug=copy, stdout=out)

    restored = Tenant.objects.get(slug=copy)
    assert restored.schema_name == copy.replace("-", "_")
    assert (restored.name, restored.kind, restored.created, restored.verified_at) == (
        clinic.name,
        clinic.kind,
        clinic.created,
        clinic.verified_at,
    )
    assert list(Domain.objects.filter(tenant=restored).values_list("domain", flat=True)) == [
        f"{copy}.localhost"
    ]
    original, twin = _state(clinic), _state(restored)
    assert twin["events"] == original["events"] and len(original["events"]) > 10
    assert twin["appointments"] == original["appointments"]
    assert len(original["appointments"]) == 4
    assert twin["positions"] == original["positions"]
    assert twin["patient"] == ("Ravi Kumar", "+919812345678")  # re-sealed for its new schema
    assert twin["found_by_phone"] == 1
    # The copy's trail is the original's, then one entry that says it was restored.
    assert twin["audit"][:-1] == original["audit"]
    with schema_context(restored.schema_name):
        last = AuditEntry.objects.order_by("-id").first()
    assert last is not None and last.action == "tenant.restored"
    assert last.detail["from_slug"] == clinic.slug
    checks = _verify(copy)
    assert f"{copy}: ok, {len(twin['audit'])} entries" in checks
    assert "Every read model matches a rebuild." in checks


def test_restoring_over_an_existing_tenant_needs_replace_and_brings_back_the_backup(
    made: list[str], tmp_path: Path, settings: Any
) -> None:
    slug = f"bk-{uuid.uuid4().hex[:8]}"
    made.append(slug)
    clinic = _clinic(slug)
    with schema_context(clinic.schema_name):
        anchors.publish()
    backup = tmp_path / "clinic.tar"
    call_command("tenant_backup", clinic.slug, out=backup, stdout=io.StringIO())
    before = _state(clinic)
    with schema_context(clinic.schema_name):
        clinic_day.visit(10)  # written, and anchored, after the backup
        anchors.publish()

    with pytest.raises(CommandError, match="exists"):
        call_command("tenant_restore", backup, stdout=io.StringIO())
    assert len(_state(clinic)["events"]) > len(before["events"])

    call_command("tenant_restore", backup, replace=True, stdout=io.StringIO())

    restored = Tenant.objects.get(slug=clinic.slug)
    after = _state(restored)
    assert after["events"] == before["events"]
    assert after["appointments"] == before["appointments"]
    assert after["audit"][:-1] == before["audit"]
    checks = _verify(clinic.slug)
    assert f"{slug}: ok, {len(after['audit'])} entries" in checks and "1 anchors match" in checks
    assert "Every read model matches a rebuild." in checks
    # The anchor of what the restore took away is kept, not deleted.
    (kept,) = Path(settings.MYMEDIC_AUDIT_ANCHOR_DIR).glob(f"{clinic.schema_name}.jsonl.before-*")
    assert len(kept.read_text().splitlines()) == 2


def test_a_backup_without_a_file_name_goes_to_the_cells_backup_folder(
    clinic: Tenant, made: list[str], tmp_path: Path, settings: Any
) -> None:
    settings.MYMEDIC_BACKUP_DIR = str(tmp_path / "cell-backups")

    call_command("tenant_backup", clinic.slug, stdout=io.StringIO())

    written = list((tmp_path / "cell-backups").iterdir())
    assert [path.name.startswith(f"{clinic.slug}-") for path in written] == [True]
    assert written[0].suffix == ".tar" and written[0].stat().st_size > 0


def test_a_backup_never_overwrites_a_file(clinic: Tenant, made: list[str], tmp_path: Path) -> None:
    backup = tmp_path / "clinic.tar"
    backup.write_bytes(b"yesterday's backup")

    with pytest.raises(CommandError, match="never overwrites"):
        call_command("tenant_backup", clinic.slug, out=backup, stdout=io.StringIO())

    assert backup.read_bytes() == b"yesterday's backup"
    assert [path.name for path in tmp_path.iterdir()] == ["clinic.tar"]


def test_a_backup_with_a_changed_byte_is_refused_before_anything_is_restored(
    clinic: Tenant, backup: Path, made: list[str], tmp_path: Path
) -> None:
    changed = tmp_path / "changed.tar"
    with tarfile.open(backup) as source, tarfile.open(changed, "w") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "schema.dump":
                data = data[:-100] + bytes([data[-100] ^ 1]) + data[-99:]
            target.addfile(member, io.BytesIO(data))
    copy = f"{clinic.slug}-bad"
    made.append(copy)

    with pytest.raises(CommandError, match="schema.dump does not match its checksum"):
        call_command("tenant_restore", changed, as_slug=copy, stdout=io.StringIO())

    assert not Tenant.objects.filter(slug=copy).exists()
    assert not schema_exists(copy.replace("-", "_"))


def test_a_restore_needs_the_master_key_the_backup_was_made_under(
    clinic: Tenant, backup: Path, made: list[str], settings: Any
) -> None:
    copy = f"{clinic.slug}-elsewhere"
    made.append(copy)
    settings.MYMEDIC_MASTER_KEY = "A" * 43 + "="  # another deployment's master key
    crypto.unwrap_tenant_key.cache_clear()

    with pytest.raises(CommandError, match="do not open with this deployment's master key"):
        call_command("tenant_restore", backup, as_slug=copy, stdout=io.StringIO())

    assert not Tenant.objects.filter(slug=copy).exists()
    assert not schema_exists(copy.replace("-", "_"))


def test_a_backup_of_an_unknown_tenant_is_refused_and_writes_nothing(
    db: None, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match="No tenant nobody-here"):
        call_command("tenant_backup", "nobody-here", out=tmp_path / "x.tar", stdout=io.StringIO())

    assert list(tmp_path.iterdir()) == []


def test_a_removed_tenant_comes_back_under_a_new_slug_from_its_backup(
    made: list[str], tmp_path: Path
) -> None:
    slug = f"bk-{uuid.uuid4().hex[:8]}"
    made.append(slug)
    clinic = _clinic(slug)
    backup = tmp_path / "clinic.tar"
    call_command("tenant_backup", slug, out=backup, stdout=io.StringIO())
    before = _state(clinic)
    _drop(slug)
    revived = f"{slug}-new"
    made.append(revived)

    call_command("tenant_restore", backup, as_slug=revived, stdout=io.StringIO())

    after = _state(Tenant.objects.get(slug=revived))
    assert after["events"] == before["events"]
    assert after["patient"] == ("Ravi Kumar", "+919812345678")
    assert after["found_by_phone"] == 1
    assert f"{revived}: ok, {len(after['audit'])} entries" in _verify(revived)
    assert not schema_exists(clinic.schema_name)
