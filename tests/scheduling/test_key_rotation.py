"""Key rotation without downtime: a new tenant key re-wraps patients in batches while reads
and searches go on; a new master key re-wraps tenant keys; old keys retire only when unused."""

import base64
import secrets
from io import StringIO
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from django.core.management import call_command

from apps.audit.models import AuditEntry
from apps.core import crypto
from apps.core.models import IdempotencyRecord, TenantKey
from apps.scheduling import keyrotation
from apps.scheduling.models import Patient
from apps.tenants.models import Tenant
from tests.conftest import client_for
from tests.scheduling.factories import PatientFactory


def fresh(patient: Patient) -> Patient:
    return Patient.objects.get(pk=patient.pk)


def search(tenant: Tenant, owner: Any, phone: str) -> list[int]:
    found = client_for(owner, tenant).get("/api/v1/patients/", {"phone": phone}).json()
    return [row["id"] for row in found["results"]]


def test_a_new_tenant_key_rewraps_patients_and_reads_and_searches_go_on_throughout(
    tenant: Tenant, owner: Any
) -> None:
    patients = [PatientFactory(name=f"Person {n}", phone=f"+9198765000{n:02d}") for n in range(5)]
    sealed_before = [bytes(fresh(p).sealed or b"") for p in patients]

    halfway = keyrotation.rotate_tenant_key(batch=2, limit=3)  # a rotation still under way

    assert halfway.patients == 3
    versions = sorted(Patient.objects.values_list("key_version", flat=True))
    assert versions == [1, 1, 2, 2, 2]
    assert [fresh(p).name for p in patients] == [f"Person {n}" for n in range(5)]
    assert search(tenant, owner, "98765 00004") == [patients[4].pk]  # still on version 1
    assert search(tenant, owner, "98765 00000") == [patients[0].pk]  # already on version 2
    newcomer = PatientFactory(name="Arrived Midway", phone="+919876500099")
    assert fresh(newcomer).key_version == 2

    keyrotation.rewrap_patients(halfway.version)

    assert set(Patient.objects.values_list("key_version", flat=True)) == {2}
    assert [bytes(fresh(p).sealed or b"") for p in patients] == sealed_before  # fields untouched
    assert fresh(patients[2]).phone == "+919876500002"
    assert search(tenant, owner, "+91 98765 00003") == [patients[3].pk]
    assert AuditEntry.objects.filter(action="keys.rotated").exists()


def test_an_old_key_retires_only_when_nothing_uses_it(tenant: Tenant, owner: Any) -> None:
    patient = PatientFactory(name="Kept Readable", phone="+919876511111")
    client = client_for(owner, tenant)
    first = client.post(
        "/api/v1/patients/",
        {"name": "Via The Api", "phone": "+919876522222"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="before-rotation",
    )

    keyrotation.rotate_tenant_key()
    dropped, in_use = keyrotation.retire()

    assert (dropped, in_use) == ([], [1])  # a kept response is still sealed with key 1
    replay = client.post(
        "/api/v1/patients/",
        {"name": "Via The Api", "phone": "+919876522222"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="before-rotation",
    )
    assert replay.json() == first.json() and replay["Idempotent-Replayed"] == "true"

    IdempotencyRecord.objects.all().delete()  # what the hourly purge does after a day
    dropped, in_use = keyrotation.retire()

    assert (dropped, in_use) == ([1], [])
    assert list(TenantKey.objects.values_list("id", flat=True)) == [2]
    assert fresh(patient).name == "Kept Readable"


def test_a_new_master_key_rewraps_tenant_keys_then_the_old_one_can_go(
    tenant: Tenant, settings: Any
) -> None:
    patient = PatientFactory(name="Through The Rotation", phone="+919876533333")
    old = settings.MYMEDIC_MASTER_KEY
    new = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    settings.MYMEDIC_MASTER_KEY, settings.MYMEDIC_MASTER_KEYS_RETIRED = new, [old]
    crypto.unwrap_tenant_key.cache_clear()
    try:
        assert fresh(patient).name == "Through The Rotation"  # the old one still opens it
        out = StringIO()

        call_command("rotate_keys", "--master", "--tenant", tenant.slug, stdout=out)

        assert f"{tenant.slug}: 1 key(s) re-wrapped" in out.getvalue()
        settings.MYMEDIC_MASTER_KEYS_RETIRED = []
        crypto.unwrap_tenant_key.cache_clear()
        assert fresh(patient).name == "Through The Rotation"
    finally:
        crypto.unwrap_tenant_key.cache_clear()


def test_without_the_rewrap_dropping_the_old_master_key_loses_access(
    tenant: Tenant, settings: Any
) -> None:
    patient = PatientFactory(name="Locked Out", phone="+919876544444")
    settings.MYMEDIC_MASTER_KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    settings.MYMEDIC_MASTER_KEYS_RETIRED = []
    crypto.unwrap_tenant_key.cache_clear()
    try:
        with pytest.raises(InvalidTag):
            _ = fresh(patient).name
    finally:
        crypto.unwrap_tenant_key.cache_clear()


def test_the_command_rotates_and_retires_per_tenant(tenant: Tenant) -> None:
    PatientFactory(name="By Command", phone="+919876555555")
    out = StringIO()

    call_command("rotate_keys", "--tenant-key", "--tenant", tenant.slug, stdout=out)
    call_command("rotate_keys", "--retire", "--tenant", tenant.slug, stdout=out)

    assert f"{tenant.slug}: key 2 active" in out.getvalue()
    assert f"{tenant.slug}: retired [1]" in out.getvalue()
