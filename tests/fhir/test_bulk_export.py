"""`$export`: kick-off, polling, the NDJSON files a Celery task writes in the tenant's schema
(sealed on the tenant's storage), download with the same token, and DELETE."""

import json
from pathlib import Path
from typing import Any

import pytest

from apps.audit.models import AuditEntry
from apps.clinic.models import User
from apps.fhir import commands
from apps.fhir.models import BulkExport
from apps.fhir.tasks import run_bulk_export
from tests.conftest import HostClient
from tests.fhir.conftest import Clinic, outcome_of, valid

pytestmark = pytest.mark.usefixtures("celery_in_process")
HOST = "http://acme.localhost"


@pytest.fixture
def export_dir(settings: Any, tmp_path: Path) -> Path:
    settings.MYMEDIC_FHIR_EXPORT_DIR = str(tmp_path / "fhir-exports")
    return tmp_path / "fhir-exports"


def kick_off(client: HostClient, query: str = "") -> Any:
    return client.get(f"/fhir/R4/$export{query}", HTTP_PREFER="respond-async")


def local(url: str) -> str:
    assert url.startswith(HOST)
    return url.removeprefix(HOST)


def test_an_export_runs_in_a_task_and_its_files_download_with_the_same_token(
    clinic: Clinic,
    owner: User,
    owner_fhir: HostClient,
    export_dir: Path,
    api: HostClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        started = kick_off(owner_fhir)
    assert started.status_code == 202
    outcome_of(started)
    status_url = local(started["Content-Location"])
    done = owner_fhir.get(status_url)
    assert done.status_code == 200 and done["Content-Type"].startswith("application/json")
    manifest = done.json()
    assert manifest["requiresAccessToken"] is True and manifest["error"] == []
    assert manifest["request"] == f"{HOST}/fhir/R4/$export"
    counts = {item["type"]: item["count"] for item in manifest["output"]}
    assert counts == {
        "Patient": 2, "Practitioner": 2, "Location": 2, "Schedule": 2, "Appointment": 4,
        "Encounter": 2,
    }  # fmt: skip
    before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    for item in manifest["output"]:
        assert api.get(local(item["url"])).status_code == 401  # the same token, or nothing
        answer = owner_fhir.get(local(item["url"]))
        assert answer.status_code == 200
        assert answer["Content-Type"] == "application/fhir+ndjson"
        lines = answer.content.decode().splitlines()
        assert len(lines) == item["count"]
        for line in lines:
            assert valid(json.loads(line)).get_resource_type() == item["type"]
    patients = owner_fhir.get(local(manifest["output"][0]["url"])).content.decode()
    assert "Asha Verma" in patients
    # Downloading the patients is an audited read of patient data, each time.
    reads = AuditEntry.objects.filter(id__gt=before, action="patient.list")
    assert [(r.actor_id, r.detail["patient_count"]) for r in reads] == [(owner.pk, 2)] * 2
    # At rest the files are sealed: no patient's name or phone in the clear.
    files = list(export_dir.rglob("*.sealed"))
    assert len(files) == 6
    for path in files:
        assert b"Asha" not in path.read_bytes() and b"9812300001" not in path.read_bytes()
    # DELETE discards it: the key and the files go, the status URL is gone.
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_fhir.delete(status_url).status_code == 202
    assert list(export_dir.rglob("*.sealed")) == []
    gone = owner_fhir.get(status_url)
    assert gone.status_code == 404 and outcome_of(gone)["issue"][0]["code"] == "not-found"
    assert owner_fhir.get(local(manifest["output"][0]["url"])).status_code == 404
    assert owner_fhir.delete(status_url).status_code == 404
    assert BulkExport.objects.get().wrapped_key is None


def test_while_the_task_has_not_run_the_status_is_202_with_progress(
    clinic: Clinic, owner_fhir: HostClient, export_dir: Path
) -> None:
    started = kick_off(
        owner_fhir, "?_type=Patient,Encounter&_outputFormat=application/fhir%2Bndjson"
    )
    assert started.status_code == 202
    waiting = owner_fhir.get(local(started["Content-Location"]))
    assert waiting.status_code == 202
    assert waiting["X-Progress"] == "0 of 2 files written"
    assert waiting["Retry-After"] == "2"


def test_types_and_since_narrow_the_export(
    clinic: Clinic,
    owner_fhir: HostClient,
    export_dir: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Only the visit checked in at 10:30 changed after 10:25 (the clock stands at 10:30).
    with django_capture_on_commit_callbacks(execute=True):
        started = kick_off(
            owner_fhir, "?_type=Encounter,Appointment&_since=2027-01-04T10:25:00%2B05:30"
        )
    manifest = owner_fhir.get(local(started["Content-Location"])).json()
    assert [(i["type"], i["count"]) for i in manifest["output"]] == [
        ("Appointment", 1),
        ("Encounter", 1),
    ]
    encounters = owner_fhir.get(local(manifest["output"][1]["url"])).content.decode()
    assert json.loads(encounters)["id"] == str(clinic.waiting.pk)


def test_a_cancelled_export_stays_cancelled_when_its_task_runs_late(
    clinic: Clinic, owner: User, owner_fhir: HostClient, export_dir: Path
) -> None:
    started = kick_off(owner_fhir)
    job = BulkExport.objects.get()
    commands.bulk_export_cancel(actor=owner, job=job)
    assert run_bulk_export(job.pk) == "cancelled"
    assert list(export_dir.rglob("*")) == []
    assert owner_fhir.get(local(started["Content-Location"])).status_code == 404


def test_a_kick_off_it_cannot_honour_is_a_400_operation_outcome(
    clinic: Clinic, owner_fhir: HostClient
) -> None:
    assert owner_fhir.get("/fhir/R4/$export").status_code == 400  # no Prefer: respond-async
    for query in (
        "?_type=Observation",
        "?_type=",
        "?_outputFormat=text/csv",
        "?_typeFilter=Patient%3Factive%3Dtrue",
        "?_since=yesterday",
        "?_since=2027-01-04",
        "?_since=ge2027-01-04T10:00:00%2B05:30",
    ):
        answer = kick_off(owner_fhir, query)
        assert answer.status_code == 400, query
        assert outcome_of(answer)["issue"][0]["code"] == "invalid"
    assert not BulkExport.objects.exists()


def test_an_export_is_the_clinics_for_its_managers_and_nobody_elses(
    clinic: Clinic, owner_fhir: HostClient, api: HostClient, other_tenant: Any
) -> None:
    from django_tenants.utils import schema_context

    from apps.clinic.models import Role
    from tests.clinic.factories import UserFactory
    from tests.conftest import client_for

    status_url = local(kick_off(owner_fhir)["Content-Location"])
    manager = clinic.client(UserFactory(role=Role.MANAGER))
    assert manager.get(status_url).status_code == 202
    desk = clinic.client(UserFactory(role=Role.RECEPTIONIST, branches=[clinic.main]))
    assert desk.get(status_url).status_code == 403
    assert desk.delete(status_url).status_code == 403
    with schema_context(other_tenant.schema_name):
        stranger = client_for(User.objects.get(role=Role.OWNER), other_tenant)
    api.credentials(HTTP_AUTHORIZATION=stranger._credentials["HTTP_AUTHORIZATION"])  # noqa: SLF001
    assert api.get(status_url).status_code == 401
    assert BulkExport.objects.get().status == BulkExport.Status.RUNNING


def test_an_export_whose_task_was_lost_is_sent_again_when_polled(
    clinic: Clinic, owner_fhir: HostClient, export_dir: Path
) -> None:
    # The kick-off's task message never left (callbacks not run: as with the broker down).
    status_url = local(kick_off(owner_fhir)["Content-Location"])
    assert owner_fhir.get(status_url).status_code == 202  # too soon to send it again
    clinic.clock.shift(31)
    assert owner_fhir.get(status_url).status_code == 202  # sent again, ran (eagerly)
    assert owner_fhir.get(status_url).status_code == 200
    assert BulkExport.objects.get().status == BulkExport.Status.COMPLETE
