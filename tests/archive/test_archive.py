"""Archive and retention: months past retention leave for verified files, read models and
the audit trail still check out, tampering with a file shows, and retention has a floor."""

import gzip
import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from apps.archive import commands as archive
from apps.archive.models import RetentionOverride
from apps.archive.policy import LEGAL_MINIMUM_MONTHS, retention_months
from apps.audit import anchors
from apps.audit.trail import verify
from apps.core.db import connection
from apps.core.errors import InvalidInput
from apps.core.partitions import AUDIT_TRAIL, EVENT_LOG, partitions
from apps.eventstore import replay
from apps.eventstore.models import ArchivedPartition, Event
from apps.eventstore.projections import catch_up, projections
from apps.plans.models import Plan
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.clock import IST, ist

pytestmark = pytest.mark.usefixtures("monday_morning")


@pytest.fixture(autouse=True)
def archive_dir(tmp_path: Path, settings: Any) -> Path:
    settings.MYMEDIC_ARCHIVE_DIR = str(tmp_path / "archive")
    return tmp_path / "archive"


def read_models() -> dict[str, list[dict[str, Any]]]:
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for projection in projections()
        for model in projection.read_models
    }


def live_partitions(log: Any) -> list[str]:
    with connection.cursor() as cursor:
        return [p.name for p in partitions(cursor, log)]


@pytest.fixture
def three_years_later(
    doctor: Doctor, patient: Patient, monday_morning: time_machine.Coordinates
) -> time_machine.Coordinates:
    """Visits in January 2027 (anchored), then visits in July 2030: by then the months up
    to June 2027 are past the 36 months' retention."""
    first = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    commands.appointment_cancel(actor=None, appointment=first, reason="ill")
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(6, 11))
    catch_up()
    anchors.publish()
    monday_morning.move_to(datetime(2030, 7, 1, 3, 0, tzinfo=UTC))
    archive.partitions_make()
    commands.appointment_book(
        actor=None, doctor=doctor, patient=patient, start=datetime(2030, 7, 2, 10, tzinfo=IST)
    )
    catch_up()
    return monday_morning


def test_nothing_within_retention_is_archived(doctor: Doctor, patient: Patient) -> None:
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))

    assert archive.logs_archive(actor=None) == []
    assert not ArchivedPartition.objects.exists()


def test_archiving_past_retention_keeps_read_models_and_a_verifiable_trail(
    three_years_later: Any, archive_dir: Path
) -> None:
    before = read_models()
    head = Event.objects.order_by("-position").values_list("position", flat=True).first()

    done = archive.logs_archive(actor=None)

    archived = {a.partition for a in done}
    assert {"eventstore_event_p202701", "audit_auditentry_p202701"} <= archived
    for log in (EVENT_LOG, AUDIT_TRAIL):
        assert not archived & set(live_partitions(log))
    records = ArchivedPartition.objects.filter(partition__in=archived)
    assert records.count() == len(done)
    for record in records:
        with gzip.open(record.path, "rt") as lines:
            rows = sum(1 for _ in lines)
        manifest = json.loads(Path(record.path.replace(".ndjson.gz", ".manifest.json")).read_text())
        assert rows == record.rows == manifest["rows"]
        assert manifest["sha256"] == record.sha256 and manifest["mac"] == record.mac
    assert sum(a.rows for a in done if a.partition.startswith("eventstore")) > 0
    # The read models rebuild from the snapshots taken before the events left.
    for projection in projections():
        assert replay.rebuild(projection) == head
    assert read_models() == before
    # The trail verifies from the archive checkpoint, and through the files too.
    live = verify()
    assert live.ok, live.problem
    full = verify(archives=True)
    assert full.ok, full.problem
    assert full.entries > live.entries


def test_a_changed_archive_file_is_detected(three_years_later: Any) -> None:
    archive.logs_archive(actor=None)
    record = ArchivedPartition.objects.get(partition="eventstore_event_p202701")
    with gzip.open(record.path, "rt") as archived:
        lines = archived.read().splitlines()
    row = json.loads(lines[0])
    row["data"]["tampered"] = True
    lines[0] = json.dumps(row)
    with gzip.open(record.path, "wt") as changed:
        changed.write("\n".join(lines) + "\n")

    result = verify(archives=True)

    assert not result.ok
    assert (
        result.problem
        == "the archive file of eventstore_event_p202701 was changed (SHA-256 differs)"
    )
    assert verify().ok  # the live rows and the signed checkpoint alone still hold


def test_verify_audit_with_archives_reports_a_missing_file(three_years_later: Any) -> None:
    archive.logs_archive(actor=None)
    record = ArchivedPartition.objects.get(partition="audit_auditentry_p202701")
    Path(record.path).unlink()
    out = StringIO()

    with pytest.raises(CommandError):
        call_command("verify_audit", "--tenant", "acme", "--archives", stdout=out)

    assert "the archive file of audit_auditentry_p202701 is missing" in out.getvalue()
    call_command("verify_audit", "--tenant", "acme", stdout=StringIO())


def test_retention_below_the_legal_minimum_is_refused(tenant: Tenant) -> None:
    with pytest.raises(InvalidInput, match="at least 36 months"):
        archive.retention_set(months=LEGAL_MINIMUM_MONTHS - 1, actor=None)
    with pytest.raises(CommandError, match="at least 36 months"):
        call_command("archive_partitions", "--tenant", "acme", "--retention-months", "24")
    with pytest.raises(ValidationError, match="36"):
        Plan(log_retention_months=12).clean_fields(
            exclude=[f.name for f in Plan._meta.fields if f.name != "log_retention_months"]
        )

    assert not RetentionOverride.objects.exists()


def test_retention_is_the_override_else_the_plan(tenant: Tenant) -> None:
    Plan.objects.filter(subscriptions__tenant=tenant).update(log_retention_months=60)
    assert retention_months(tenant.schema_name) == 60

    archive.retention_set(months=48, actor=None)

    assert retention_months(tenant.schema_name) == 48
