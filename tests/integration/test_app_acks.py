"""Application ACKs (enhanced mode, MSH-16): once a message is applied, or fails to apply,
the ACK its sender asked for (AL always, SU on success, ER on an error, NE never) is owed in
the applying transaction (an outbox row) and sent to the inbound channel's host and port
over MLLP by the sender task, with retries and backoff, once."""

import logging
import random
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.audit.models import AuditEntry
from apps.clinic.models import User
from apps.integration.commands import NO_RETURN_ADDRESS, channel_add, message_reprocess
from apps.integration.models import ApplicationAck, Channel, Message
from apps.integration.outbound import APP_ACK_ATTEMPTS, next_send, send_pending
from apps.tenants.models import Tenant
from tests.conftest import client_for
from tests.integration.fake_his import fake_his
from tests.integration.traffic import MllpClient, adt, receive
from tests.servers import celery_worker, free_port, wait_until

pytestmark = pytest.mark.usefixtures("monday_morning")


def asking(text: str, application: str, accept: str = "AL") -> str:
    """The message in the enhanced mode (MSH-15 `accept`) asking MSH-16 = `application`."""
    msh, _, rest = text.partition("\r")
    fields = msh.split("|") + [""] * 16
    fields[14], fields[15] = accept, application
    return "|".join(fields[:16]).rstrip("|") + "\r" + rest


def returning(tenant_slug: str, port: int | None) -> Channel:
    """An inbound channel whose system listens for application ACKs on 127.0.0.1:`port`."""
    return channel_add(
        actor=None, name="City Hospital", direction="inbound",
        sending_facility=f"HOSP{random.randrange(10**6, 10**7)}",
        host="127.0.0.1" if port else "", port=port,
    )  # fmt: skip


def register(tenant: Tenant, channel: Channel, *, phone: str | None = None, **extra: str) -> str:
    return adt(
        "A04", tenant=tenant.slug, facility=channel.sending_facility,
        identifier=f"MRN{random.randrange(10**8, 10**9)}",
        phone=f"+9198{random.randrange(10**7, 10**8)}" if phone is None else phone, **extra,
    )  # fmt: skip


def segments(text: str) -> dict[str, list[str]]:
    return {line.split("|")[0]: line.split("|") for line in text.split("\r") if line}


@pytest.mark.parametrize(
    ("asked", "on_success", "on_error"),
    [("AL", ["AA"], ["AE"]), ("SU", ["AA"], []), ("ER", [], ["AE"]), ("NE", [], []),
     ("", [], [])],
)  # fmt: skip
def test_msh16_decides_which_outcomes_are_acknowledged(
    tenant: Tenant, asked: str, on_success: list[str], on_error: list[str]
) -> None:
    channel = returning(tenant.slug, free_port())
    good = receive(channel, asking(register(tenant, channel), asked))
    bad = receive(channel, asking(register(tenant, channel, phone=""), asked))
    assert (good.status, bad.status) == (Message.Status.APPLIED, Message.Status.ERROR)
    assert [a.code for a in good.app_acks.all()] == on_success
    assert [a.code for a in bad.app_acks.all()] == on_error
    # Owed, not sent yet: the sender task delivers them.
    assert all((a.status, a.attempts) == ("pending", 0) for a in ApplicationAck.objects.all())


def test_the_original_mode_owes_no_application_ack(tenant: Tenant) -> None:
    channel = returning(tenant.slug, free_port())
    receive(channel, asking(register(tenant, channel), "AL", accept=""))
    assert not ApplicationAck.objects.exists()


def test_an_application_ack_names_the_message_and_says_why_it_failed(tenant: Tenant) -> None:
    channel = returning(tenant.slug, free_port())
    good = receive(channel, asking(register(tenant, channel, control_id="G-1"), "AL"))
    bad = receive(channel, asking(register(tenant, channel, phone="", control_id="B-1"), "AL"))
    aa, ae = good.app_acks.get(), bad.app_acks.get()
    accepted = segments(aa.text)
    assert accepted["MSA"][1:3] == ["AA", "G-1"]
    msh = accepted["MSH"]
    # Our own control id (MSH-10), back to the sender (MSH-5/6), from the clinic (MSH-4).
    assert msh[9] == aa.control_id == f"MMA{good.pk}AA"
    assert (msh[3], msh[4], msh[5]) == (tenant.slug, "HIS", channel.sending_facility)
    assert (msh[8], msh[14], msh[15]) == ("ACK^A04^ACK", "AL", "NE")
    assert "ERR" not in accepted
    refused = segments(ae.text)
    assert refused["MSA"][1:3] == ["AE", "B-1"]
    assert refused["ERR"][3:5] == ["207^Application internal error^HL70357", "E"]
    assert refused["ERR"][8] == bad.error and bad.error.startswith("phone:")
    assert refused["MSH"][9] == f"MMA{bad.pk}AE" != msh[9]


def test_a_message_type_that_is_not_handled_is_refused_ar(tenant: Tenant) -> None:
    channel = returning(tenant.slug, free_port())
    text = register(tenant, channel, control_id="S-1").replace("ADT^A04^ADT_A01", "SIU^S12^SIU")
    message = receive(channel, asking(text, "ER"))
    owed = message.app_acks.get()
    assert owed.code == "AR"
    assert segments(owed.text)["ERR"][3] == "200^Unsupported message type^HL70357"


def test_the_ack_is_owed_in_the_applying_transaction(tenant: Tenant) -> None:
    channel = returning(tenant.slug, free_port())
    with pytest.raises(RuntimeError), transaction.atomic():
        receive(channel, asking(register(tenant, channel), "AL"))
        assert ApplicationAck.objects.filter(channel=channel, code="AA").count() == 1
        raise RuntimeError("the apply transaction rolls back")
    assert not ApplicationAck.objects.filter(channel=channel).exists()


def test_a_failure_is_nakd_once_and_the_later_success_gets_its_aa(tenant: Tenant) -> None:
    channel = returning(tenant.slug, free_port())
    text = register(tenant, channel, phone="", control_id="R-1")
    bad = receive(channel, asking(text, "AL"))
    bad = Message.objects.get(pk=bad.pk)
    message_reprocess(actor=None, message=bad)  # fails again: no second AE
    fixed = text.replace("||19850312", "||19850312||||||+919812345678", 1)  # PID-13
    assert fixed != text
    done = message_reprocess(actor=None, message=bad, raw=asking(fixed, "AL"))
    assert done.status == Message.Status.APPLIED
    assert [a.code for a in done.app_acks.all()] == ["AE", "AA"]


def test_a_channel_without_a_return_address_records_the_ack_as_failed(tenant: Tenant) -> None:
    channel = returning(tenant.slug, None)
    message = receive(channel, asking(register(tenant, channel), "AL"))
    owed = message.app_acks.get()
    assert (owed.status, owed.error) == ("failed", NO_RETURN_ADDRESS)
    assert next_send() is None


def test_a_peer_that_is_down_then_up_gets_the_ack_once(tenant: Tenant) -> None:
    port = free_port()  # nothing listens there yet
    channel = returning(tenant.slug, port)
    message = receive(channel, asking(register(tenant, channel, control_id="D-1"), "AL"))
    assert next_send() == timezone.now()
    assert send_pending() == 0
    owed = ApplicationAck.objects.get(message=message)
    assert (owed.status, owed.attempts) == ("pending", 1)
    assert owed.error.startswith("Connection failed")
    assert owed.next_attempt_at == timezone.now() + timedelta(seconds=5)
    assert next_send() == owed.next_attempt_at
    with fake_his(["CA"], port=port) as his:
        assert send_pending() == 0  # not due yet
        with time_machine.travel(owed.next_attempt_at, tick=False):
            assert send_pending() == 1
            assert send_pending() == 0
        assert len(his.received) == 1
        assert segments(his.received[0])["MSA"][1:3] == ["AA", "D-1"]
    owed.refresh_from_db()
    assert (owed.status, owed.attempts, owed.error) == ("sent", 2, "")
    assert owed.sent_at is not None and next_send() is None


def test_an_ack_the_peer_never_accepts_fails_after_its_attempts_and_the_next_one_goes(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    with fake_his(["AR"] * APP_ACK_ATTEMPTS + ["CA"]) as his:
        channel = returning(tenant.slug, his.port)
        first = receive(channel, asking(register(tenant, channel, control_id="F-1"), "AL"))
        second = receive(channel, asking(register(tenant, channel, control_id="F-2"), "AL"))
        with caplog.at_level(logging.WARNING, logger="mymedic.integration"):
            for _ in range(APP_ACK_ATTEMPTS):
                due = next_send()
                assert due is not None
                with time_machine.travel(due, tick=False):
                    send_pending()
        # The first was refused every time (holding the second), then failed; the second went.
        assert [segments(t)["MSA"][2] for t in his.received] == ["F-1"] * APP_ACK_ATTEMPTS + ["F-2"]
    failed, sent = first.app_acks.get(), second.app_acks.get()
    assert (failed.status, failed.attempts, failed.error) == (
        "failed", APP_ACK_ATTEMPTS, "AR: scripted AR"
    )  # fmt: skip
    assert (sent.status, sent.attempts) == ("sent", 1)
    waits = sorted(
        r.getMessage().split(" schema=")[0] for r in caplog.records if r.levelno >= logging.WARNING
    )
    assert waits.count("hl7 application ack not accepted") == APP_ACK_ATTEMPTS - 1
    assert waits.count("hl7 application ack failed") == 1


def test_the_api_lists_a_message_with_its_application_ack(tenant: Tenant, owner: User) -> None:
    channel = returning(tenant.slug, free_port())
    message = receive(channel, asking(register(tenant, channel), "AL"))
    found = client_for(owner, tenant).get(
        f"/api/v1/integrations/hl7/messages/?channel={channel.pk}"
    )
    assert found.status_code == 200, found.content
    [row] = found.json()["results"]
    assert row["id"] == message.pk
    assert row["application_acks"] == [
        {"code": "AA", "control_id": f"MMA{message.pk}AA", "status": "pending", "attempts": 0,
         "next_attempt_at": None, "error": "", "sent_at": None}
    ]  # fmt: skip


@pytest.mark.slow
def test_over_mllp_the_sender_gets_aa_after_apply_from_the_celery_task(
    node: Tenant, listener: int
) -> None:
    """The real listener process answers CA on storing, applies, owes the application ACKs;
    the sender task on a real Celery worker delivers them to the sender's own MLLP
    listener: AL → AA, ER on an error → AE, ER on success and NE → none."""
    with fake_his(["CA"]) as his, celery_worker():
        with schema_context(node.schema_name):
            channel = returning(node.slug, his.port)
        texts = [
            asking(register(node, channel, control_id=f"L-{time.monotonic_ns()}"), "AL"),
            asking(register(node, channel, phone="", control_id="ER-BAD"), "ER"),
            asking(register(node, channel, control_id="ER-GOOD"), "ER"),
            asking(register(node, channel, control_id="NE-1"), "NE"),
        ]
        with MllpClient(listener) as client:
            answers = [client.send(text) for text in texts]
        assert [a.code for a in answers] == ["CA"] * 4
        wait_until(lambda: len(his.received) >= 2, 60, "the application ACKs")
        with schema_context(node.schema_name):
            wait_until(
                lambda: not ApplicationAck.objects.filter(
                    channel=channel, status="pending"
                ).exists(),
                30,
                "the ACKs marked sent",
            )
            rows = list(ApplicationAck.objects.filter(channel=channel).order_by("id"))
    first_control = answers[0].control_id
    assert sorted(segments(t)["MSA"][1] + ":" + segments(t)["MSA"][2] for t in his.received) == (
        sorted([f"AA:{first_control}", "AE:ER-BAD"])
    )
    assert [(r.code, r.status, r.attempts) for r in rows] == [("AA", "sent", 1), ("AE", "sent", 1)]


def test_a_failed_ack_is_sent_again_from_the_admin(tenant: Tenant, owner: User) -> None:
    channel = returning(tenant.slug, None)
    message = receive(channel, asking(register(tenant, channel), "AL"))
    failed = message.app_acks.get()
    assert failed.status == "failed"
    admin = client_for(owner, tenant)
    admin.force_login(owner)
    listing = admin.get("/admin/integration/applicationack/?status__exact=failed")
    assert listing.status_code == 200 and failed.control_id in listing.content.decode()
    admin.post(
        "/admin/integration/applicationack/",
        {"action": "send_again", "_selected_action": [failed.pk]},
    )
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)
    assert AuditEntry.objects.filter(action="hl7.app_ack.resend").count() == 1
