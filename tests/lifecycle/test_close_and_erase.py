"""Closing a tenant erases it: nothing of it can be read anywhere afterwards, not even from a
backup taken before; a crash half-way is finished by a rerun.

The tenant's data is committed (the erasure drops a schema, pg_dump reads from another
connection), so these tests do not use `db`; each removes what it made.
"""

import base64
import io
import json
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.audit.models import AuditEntry
from apps.clinic.models import User
from apps.core import crypto, keystore
from apps.core.shortlived import forget_all
from apps.lifecycle import erasure
from apps.lifecycle.commands import closures_due, tenant_close
from apps.lifecycle.models import STEPS, TenantClosure
from apps.plans.models import Statement, Subscription
from apps.scheduling.models import Patient
from apps.tenants import backups
from apps.tenants.models import Tenant
from tests.conftest import HostClient, client_for
from tests.lifecycle import search
from tests.lifecycle.conftest import Clinic

pytestmark = pytest.mark.slow


def ran(closure: TenantClosure) -> list[str]:
    """The steps recorded on the closure, in the order they ran."""
    return sorted(closure.steps, key=lambda step: closure.steps[step]["at"])


def _backup(clinic: Clinic, folder: Path) -> Path:
    path = folder / "before-close.tar"
    call_command("tenant_backup", clinic.slug, out=path, stdout=io.StringIO())
    return path


def test_nothing_of_an_erased_tenant_can_be_found_anywhere(clinic: Clinic) -> None:
    before = search.everywhere(clinic.needles)
    # The search finds the tenant where the app put it (so its silence afterwards counts).
    places = " ".join(before)
    for expected in (
        f"postgres:{clinic.schema}.", "postgres:public.tenants_tenant", "redis:",
        "warehouse:databases", "outbox", "exports", "backups", "audit-anchors", "keystore",
    ):  # fmt: skip
        assert expected in places, expected
    assert {clinic.patient_name, clinic.phone} <= set().union(*before.values())

    out = io.StringIO()
    call_command(
        "tenant_close", clinic.slug, "--yes", "--erase-now", "--by", "ops@example.com", stdout=out
    )

    closure = TenantClosure.objects.get(slug=clinic.slug)
    after = search.everywhere(
        clinic.needles, skip=("public", "lifecycle_tenantclosure", closure.pk)
    )
    assert after == {}
    assert f"[{len(STEPS)}/{len(STEPS)}] redis:" in out.getvalue()


def test_the_closure_record_says_who_erased_what_and_keeps_the_statements(
    clinic: Clinic,
) -> None:
    tenant_close(actor="ops@example.com", slug=clinic.slug, reason="contract ended")
    closure = tenant_close(actor="ops@example.com", slug=clinic.slug, erase_now=True)

    assert closure.tenant_id == clinic.tenant.pk
    assert closure.closed_by == "ops@example.com" and closure.erased_by == "ops@example.com"
    assert closure.erased_at is not None and closure.erased_at >= closure.closed_at
    assert ran(closure) == list(STEPS)
    assert closure.counts == {
        "patients": 1, "appointments": 3, "events": closure.counts["events"],
        "audit_entries": closure.counts["audit_entries"], "staff": 1,
    }  # fmt: skip
    assert closure.counts["events"] > 6 and closure.counts["audit_entries"] > 6
    assert closure.steps["keys"]["key_store_entries"] == 1
    assert closure.steps["warehouse"]["databases"] == 1
    assert closure.steps["files"]["outbox_lines"] == 4  # a sign-in code, three confirmations
    assert closure.steps["files"]["files"] >= 3  # export folder, anchors, backup
    assert len(closure.audit_head_sha256) == 64
    assert closure.schema_name == ""
    # The platform's invoice stays (tax law), no longer naming the tenant.
    assert closure.statements_kept == [clinic.statement]
    assert Statement.objects.get(number=clinic.statement).tenant_id is None
    assert not Tenant.objects.filter(slug=clinic.slug).exists()
    assert not Subscription.objects.filter(tenant_id=clinic.tenant.pk).exists()


def test_the_final_audit_head_is_the_erasure_entry_of_the_tenants_own_trail(
    clinic: Clinic,
) -> None:
    tenant_close(actor="ops@example.com", slug=clinic.slug)
    with schema_context(clinic.schema):
        closed = AuditEntry.objects.filter(action="tenant.closed").get()
    assert closed.detail["by"] == "ops@example.com"

    heads: list[str] = []
    original = erasure.erase_files

    def note_head_then_erase(closure: TenantClosure) -> dict[str, int]:
        with schema_context(closure.schema_name):
            last = AuditEntry.objects.order_by("-id").first()
            assert last is not None
            heads.append(f"{last.action}:{last.hash}")
        return original(closure)

    erasure.STEP_WORK["files"] = note_head_then_erase
    try:
        closure = tenant_close(actor="ops@example.com", slug=clinic.slug, erase_now=True)
    finally:
        erasure.STEP_WORK["files"] = original

    assert heads == [f"tenant.erased:{closure.audit_head_sha256}"]


def test_an_erased_tenants_host_and_its_staff_token_answer_nothing(clinic: Clinic) -> None:
    with schema_context(clinic.schema):
        owner = User.objects.get(role="owner")
    client = client_for(owner, clinic.tenant)
    assert client.get("/api/v1/auth/me/").status_code == 200

    tenant_close(actor="ops@example.com", slug=clinic.slug, erase_now=True)
    forget_all()  # what every process does within a second (apps/core/shortlived.py)

    assert client.get("/api/v1/auth/me/").status_code == 404
    assert HostClient(f"{clinic.slug}.localhost").get("/login/").status_code == 404


def test_a_backup_taken_before_the_close_yields_no_patient_data_after_the_erasure(
    clinic: Clinic, tmp_path: Path
) -> None:
    backup = _backup(clinic, tmp_path)
    tenant_close(actor="ops@example.com", slug=clinic.slug, erase_now=True)

    # The restore refuses it: its keys do not open without the destroyed key-store secret.
    with pytest.raises(CommandError, match="key store has no secret"):
        call_command("tenant_restore", backup, stdout=io.StringIO())
    assert not Tenant.objects.filter(slug=clinic.slug).exists()

    # Loaded anyway (as someone holding the file and the master key would), it holds the
    # rows but no patient's data can be opened: the tenant key cannot be unwrapped.
    with tarfile.open(backup) as tar:
        public = json.load(tar.extractfile("public.json"))  # type: ignore[arg-type]
        dump = tar.extractfile("schema.dump")
        assert dump is not None
        (tmp_path / "schema.dump").write_bytes(dump.read())
    wrapped = base64.b64decode(public["tenant_keys"][0]["wrapped"])
    with pytest.raises(InvalidTag):
        crypto.unwrap_tenant_key(wrapped, clinic.schema)
    backups.load_schema(tmp_path / "schema.dump", source=clinic.schema, target=clinic.schema)
    try:
        with schema_context(clinic.schema):
            patient = Patient.objects.get()
            assert patient.sealed is not None  # the row is there, sealed
            with pytest.raises(InvalidTag):
                _ = patient.name
    finally:
        connection.set_schema_to_public()
        backups.drop_schema(clinic.schema)


def test_a_backup_restores_while_the_tenant_is_only_closed(clinic: Clinic, tmp_path: Path) -> None:
    """The control: the same backup opens as long as the key-store secret exists."""
    backup = _backup(clinic, tmp_path)
    tenant_close(actor="ops@example.com", slug=clinic.slug)
    copy = f"{clinic.slug}-copy"
    try:
        call_command("tenant_restore", backup, as_slug=copy, stdout=io.StringIO())
        with schema_context(copy.replace("-", "_")):
            assert Patient.objects.get().name == clinic.patient_name
    finally:
        connection.set_schema_to_public()
        for tenant in Tenant.objects.filter(slug=copy):
            tenant.delete(force_drop=True)
        keystore.destroy(copy.replace("-", "_"))


@pytest.mark.parametrize("failing", ["warehouse", "schema", "redis"])
def test_an_erasure_that_fails_half_way_is_finished_by_a_rerun(
    clinic: Clinic, failing: str
) -> None:
    tenant_close(actor="ops@example.com", slug=clinic.slug)
    original = erasure.STEP_WORK[failing]

    def crash(closure: TenantClosure) -> dict[str, int]:
        raise RuntimeError(f"killed during {failing}")

    erasure.STEP_WORK[failing] = crash
    try:
        with pytest.raises(RuntimeError, match=f"killed during {failing}"):
            call_command("tenant_close", clinic.slug, "--yes", "--erase-now", stdout=io.StringIO())
    finally:
        erasure.STEP_WORK[failing] = original
    interrupted = TenantClosure.objects.get(slug=clinic.slug)
    done_before = list(STEPS[: STEPS.index(failing)])
    assert ran(interrupted) == done_before
    assert interrupted.erased_at is None

    out = io.StringIO()
    call_command("tenant_close", clinic.slug, "--yes", "--erase-now", stdout=out)

    closure = TenantClosure.objects.get(slug=clinic.slug)
    assert ran(closure) == list(STEPS)
    assert closure.erased_at is not None
    for step in done_before:
        assert f"{step}: done before" in out.getvalue()
    after = search.everywhere(
        clinic.needles, skip=("public", "lifecycle_tenantclosure", closure.pk)
    )
    assert after == {}


def test_a_closed_tenant_is_erased_by_beat_once_its_grace_has_passed(
    clinic: Clinic, settings: Any
) -> None:
    from apps.lifecycle.tasks import erase_closed_tenant

    settings.MYMEDIC_CLOSED_TENANT_ERASE_DAYS = 30
    closure = tenant_close(actor="ops@example.com", slug=clinic.slug)
    assert closure.erase_after - closure.closed_at == timedelta(days=30)
    assert closure.pk not in closures_due(timezone.now() + timedelta(days=29))
    assert closure.pk in closures_due(timezone.now() + timedelta(days=31))
    # Closed, not erased: the owner may still sign in and read, nobody may change anything.
    assert Tenant.objects.filter(slug=clinic.slug).exists()
    assert Subscription.objects.get(tenant=clinic.tenant).status == "closed"

    assert erase_closed_tenant(closure.pk) == clinic.slug

    closure.refresh_from_db()
    assert closure.erased_at is not None and closure.erased_by == "beat"
    assert not keystore.path_of(clinic.schema).exists()


def test_closing_asks_for_the_slug_to_be_typed(clinic: Clinic, monkeypatch: Any) -> None:
    monkeypatch.setattr("builtins.input", lambda prompt: "not-the-slug")

    with pytest.raises(CommandError, match="does not match; nothing was done"):
        call_command("tenant_close", clinic.slug, stdout=io.StringIO())

    assert not TenantClosure.objects.filter(slug=clinic.slug).exists()
    assert Subscription.objects.get(tenant=clinic.tenant).status == "active"


def test_the_operator_closes_a_tenant_from_the_admin_after_typing_its_slug(
    clinic: Clinic, committed_operator: HostClient
) -> None:
    subscription = Subscription.objects.get(tenant=clinic.tenant)
    chosen = {"action": "close_and_erase", "_selected_action": [subscription.pk]}

    asked = committed_operator.post("/admin/plans/subscription/", chosen)
    assert asked.status_code == 200
    assert "Type the tenant&#x27;s address (slug) to confirm" in asked.content.decode()

    mistyped = committed_operator.post(
        "/admin/plans/subscription/", {**chosen, "confirm": "1", "typed_slug": "acme"}
    )
    assert f"Type {clinic.slug} exactly" in mistyped.content.decode()
    assert not TenantClosure.objects.filter(slug=clinic.slug).exists()

    closed = committed_operator.post(
        "/admin/plans/subscription/",
        {**chosen, "confirm": "1", "typed_slug": clinic.slug, "reason": "asked to leave"},
        follow=True,
    )
    assert f"Closed {clinic.slug}; it will be erased after" in closed.content.decode()
    closure = TenantClosure.objects.get(slug=clinic.slug)
    assert closure.closed_by.startswith("ops-") and closure.reason == "asked to leave"
    assert closure.erased_at is None
    listed = committed_operator.get("/admin/lifecycle/tenantclosure/")
    assert clinic.slug in listed.content.decode()
