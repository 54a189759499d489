"""Audit replay: a channel's stored messages of a time range replayed into a scratch schema
and compared with live (ids and field names only), and resent in order to another system
over MLLP with retries."""

import json
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.clinic.models import Role, User
from apps.integration.commands import channel_add
from apps.integration.models import Channel, Message
from apps.integration.replay import RecordDiff, replay_check, resend
from apps.scheduling.commands import patient_update
from apps.scheduling.models import Patient
from apps.tenants.models import Tenant
from tests.conftest import HostClient
from tests.integration.fake_his import fake_his
from tests.integration.traffic import adt, receive
from tests.servers import free_port


@pytest.fixture
def channel(tenant: Tenant) -> Channel:
    return channel_add(actor=None, name="City", sending_facility="CITY", direction="inbound")


def feed(tenant: Tenant, channel: Channel) -> list[Message]:
    """Three registrations, an update of the first, one the feed cannot apply (no phone)."""

    def one(event: str, identifier: str, control_id: str, **fields: str) -> Message:
        text = adt(event, tenant=tenant.slug, facility="CITY", identifier=identifier,
                   control_id=control_id, **fields)  # fmt: skip
        return receive(channel, text)

    return [
        one("A04", "M-1", "C-1", name="Rao^Kavya", phone="+919800000101"),
        one("A04", "M-2", "C-2", name="Iyer^Lakshmi", phone="+919800000102"),
        one("A04", "M-3", "C-3", name="Das^Arun", phone="+919800000103"),
        one("A08", "M-1", "C-4", name="Rao^Kavya^M", phone="+919800000111"),
        one("A04", "M-4", "C-5", name="Nair^Anu", phone=""),
    ]


def around_now() -> dict[str, object]:
    now = timezone.now()
    return {"start": now - timedelta(hours=1), "end": now + timedelta(hours=1)}


def scratch_schemas() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'hl7replay_%%'")
        return int(cursor.fetchone()[0])


def test_a_replay_matches_live_and_names_the_field_a_person_changed_since(
    tenant: Tenant, channel: Channel
) -> None:
    messages = feed(tenant, channel)
    patients_before = Patient.objects.count()
    corrected = Patient.objects.get(pk=messages[1].patient_id)
    patient_update(actor=None, patient=corrected, name="Lakshmi Iyer-Menon")  # the front desk

    report = replay_check(actor=None, channel=channel, **around_now())  # type: ignore[arg-type]

    assert report.messages == 5
    assert report.live == {"applied": 4, "error": 1}
    assert report.scratch == {"applied": 4, "error": 1}
    assert (report.patients_live, report.patients_scratch) == (3, 3)
    assert report.different == [RecordDiff(corrected.pk, ["C-2"], ["name"])]
    assert [e["control_id"] for e in report.scratch_errors] == ["C-5"]
    text = json.dumps(report.as_dict())
    assert "Lakshmi" not in text and "+9198" not in text and "Kavya" not in text
    assert Patient.objects.count() == patients_before  # nothing of the scratch run is live
    assert scratch_schemas() == 0
    entry = AuditEntry.objects.get(action="hl7.replay.check")
    assert (entry.target, entry.detail["messages"], entry.detail["different"]) == (
        f"hl7channel:{channel.pk}", 5, 1
    )  # fmt: skip


def test_a_replay_outside_the_range_replays_nothing(tenant: Tenant, channel: Channel) -> None:
    feed(tenant, channel)
    later = timezone.now() + timedelta(hours=2)
    report = replay_check(actor=None, channel=channel, start=later, end=later + timedelta(hours=1))
    assert (report.messages, report.scratch, report.different) == (0, {}, [])


def test_resending_sends_in_order_waits_for_each_ack_and_retries_a_refusal(
    tenant: Tenant, channel: Channel
) -> None:
    messages = feed(tenant, channel)
    with fake_his(["AR", "AA"]) as his:
        outcome = resend(
            actor=None, channel=channel, host="127.0.0.1", port=his.port, pause=0.01,
            **around_now(),  # type: ignore[arg-type]
        )  # fmt: skip
    sent = [text.split("\r")[0].split("|")[9] for text in his.received]
    assert sent == ["C-1", "C-1", "C-2", "C-3", "C-4", "C-5"]
    assert his.received[1:] == [m.raw for m in messages]
    assert (outcome.sent, outcome.retries, outcome.stopped_at) == (5, 1, "")
    assert outcome.codes == {"AR": 1, "AA": 5}
    assert AuditEntry.objects.get(action="hl7.replay.resend").detail["sent"] == 5


def test_resending_stops_at_a_message_no_retry_gets_accepted(
    tenant: Tenant, channel: Channel
) -> None:
    feed(tenant, channel)
    with fake_his(["AA", "AE"]) as his:
        outcome = resend(
            actor=None, channel=channel, host="127.0.0.1", port=his.port, retries=2, pause=0.01,
            **around_now(),  # type: ignore[arg-type]
        )  # fmt: skip
    assert (outcome.sent, outcome.retries, outcome.stopped_at) == (1, 2, "C-2")
    assert len(his.received) == 4  # C-1 once, C-2 three times, nothing after it


def test_resending_to_nobody_retries_the_connection_then_stops(
    tenant: Tenant, channel: Channel
) -> None:
    feed(tenant, channel)
    outcome = resend(
        actor=None, channel=channel, host="127.0.0.1", port=free_port(), retries=1, pause=0.01,
        timeout=1, **around_now(),  # type: ignore[arg-type]
    )  # fmt: skip
    assert (outcome.sent, outcome.stopped_at, outcome.codes) == (0, "C-1", {"none": 2})


def test_the_command_writes_a_report_and_resends_with_a_progress_bar(
    tenant: Tenant, channel: Channel, tmp_path: Path
) -> None:
    feed(tenant, channel)
    window = around_now()
    span = ["--from", window["start"].isoformat(), "--to", window["end"].isoformat()]  # type: ignore[attr-defined]
    out, err = StringIO(), StringIO()
    report = tmp_path / "replay.json"
    call_command("hl7_replay", str(channel.pk), "--tenant", tenant.slug, *span,
                 "--into-scratch", "--report", str(report), stdout=out, stderr=err)  # fmt: skip
    assert json.loads(report.read_text())["messages"] == 5
    assert "5 messages" in out.getvalue() and "0 patients differ" in out.getvalue()
    assert "5/5" in err.getvalue()
    with fake_his(["AA"]) as his:
        call_command("hl7_replay", str(channel.pk), "--tenant", tenant.slug, *span,
                     "--resend-to", f"127.0.0.1:{his.port}", stdout=out, stderr=err)  # fmt: skip
    assert len(his.received) == 5
    assert "sent 5 of 5" in out.getvalue()
    with fake_his(["AE"]) as his, pytest.raises(CommandError, match="stopped at control id C-1"):
        call_command("hl7_replay", str(channel.pk), "--tenant", tenant.slug, *span,
                     "--resend-to", f"127.0.0.1:{his.port}", "--retries", "0",
                     stdout=out, stderr=err)  # fmt: skip


def test_the_channel_admin_action_replays_a_range_and_lists_what_differs(
    tenant: Tenant, channel: Channel, api: HostClient
) -> None:
    messages = feed(tenant, channel)
    corrected = Patient.objects.get(pk=messages[2].patient_id)
    patient_update(actor=None, patient=corrected, phone="+919800000999")
    owner = User.objects.get(role=Role.OWNER)
    api.force_login(owner)
    # A day either side: the form reads times in the clinic's zone.
    now = timezone.now()
    window = {
        "start": (now - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"),
        "end": (now + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"),
    }
    form = api.post(
        "/admin/integration/channel/",
        {"action": "replay_range", "_selected_action": [channel.pk]},
    )
    assert form.status_code == 200 and "Resend to (HOST:PORT)" in form.content.decode()
    done = api.post(
        "/admin/integration/channel/",
        {"action": "replay_range", "_selected_action": [channel.pk], "apply": "Run",
         "resend_to": "", **window},
        follow=True,
    )  # fmt: skip
    page = done.content.decode()
    assert "5 messages" in page and "1 patients differ" in page
    assert f"Patient {corrected.pk} (messages C-3): phone differ" in page
    assert "+919800000999" not in page
    entry = AuditEntry.objects.get(action="hl7.replay.check")
    assert entry.actor_id == owner.pk
