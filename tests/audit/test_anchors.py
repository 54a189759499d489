"""Audit anchors: the chain's head signed outside the database, so a trail rewritten and
re-hashed whole (consistent in itself) is still caught."""

import json
from io import StringIO

from django.core.management import call_command
from django.db import connection

from apps.audit import anchors
from apps.audit.models import AuditEntry
from apps.audit.tasks import publish_anchor
from apps.audit.trail import GENESIS, _hashed_fields, entry_hash, verify
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from tests.audit.tampering import disable_triggers
from tests.clock import ist


def sql(statement: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def book_three(doctor: Doctor, patient: Patient) -> None:
    for hour in (9, 10, 11):
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, hour))


def rewrite_and_rehash(entry_id: int, actor_role: str) -> None:
    """What an attacker with database access would do: change an entry, then re-hash every
    entry from there on so the chain is consistent again."""
    disable_triggers("audit_auditentry")
    sql("UPDATE audit_auditentry SET actor_role = %s WHERE id = %s", [actor_role, entry_id])
    previous = GENESIS
    for entry in AuditEntry.objects.order_by("id"):
        fresh = entry_hash(previous, _hashed_fields(entry))
        sql(
            "UPDATE audit_auditentry SET prev_hash = %s, hash = %s WHERE id = %s",
            [previous, fresh, entry.id],
        )
        previous = fresh


def test_the_head_is_published_signed_once_per_change(doctor: Doctor, patient: Patient) -> None:
    book_three(doctor, patient)

    first = publish_anchor()
    again = publish_anchor()

    head = AuditEntry.objects.order_by("-id").first()
    assert head is not None and first == head.id
    assert again is None  # nothing new to anchor
    [line] = anchors.anchor_file().read_text().splitlines()
    row = json.loads(line)
    assert (row["entry"], row["hash"], row["schema"]) == (
        head.id,
        head.hash,
        connection.schema_name,
    )
    assert len(row["mac"]) == 64
    result = verify()
    assert result.ok and result.anchors == 1


def test_a_rewritten_and_rehashed_trail_no_longer_matches_its_anchor(
    doctor: Doctor, patient: Patient
) -> None:
    book_three(doctor, patient)
    anchors.publish()
    victim = AuditEntry.objects.order_by("id")[2]

    rewrite_and_rehash(victim.id, "owner")

    result = verify()
    assert not result.ok
    assert "the trail was rewritten" in result.problem


def test_the_same_rewrite_without_anchors_would_pass_unnoticed(
    doctor: Doctor, patient: Patient
) -> None:
    """Why anchors exist: the hash chain alone cannot see a consistent re-hash."""
    book_three(doctor, patient)
    victim = AuditEntry.objects.order_by("id")[2]

    rewrite_and_rehash(victim.id, "owner")

    assert verify().ok


def test_a_forged_anchor_fails_its_signature(doctor: Doctor, patient: Patient) -> None:
    book_three(doctor, patient)
    anchors.publish()
    path = anchors.anchor_file()
    row = json.loads(path.read_text())
    row["hash"] = "0" * 64
    path.write_text(json.dumps(row) + "\n")

    result = verify()

    assert not result.ok
    assert "not signed by this deployment's key" in result.problem


def test_verify_audit_reports_the_anchors(tenant: object, doctor: Doctor, patient: Patient) -> None:
    book_three(doctor, patient)
    anchors.publish()
    out = StringIO()

    call_command("verify_audit", "--tenant", "acme", stdout=out)

    assert "1 anchors match" in out.getvalue()
