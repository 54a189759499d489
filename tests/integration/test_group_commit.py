"""Group commit: a channel's messages stored in one insert and applied in one transaction,
a savepoint each, every message answered with its own ACK code after the commit; the
tenant's key and the live mapping looked up once a batch; the enhanced acknowledgment mode
(MSH-15) answered `CA` once stored."""

import random
import time
import uuid
from io import StringIO

from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.audit.models import AuditEntry
from apps.eventstore.models import Event
from apps.integration.commands import apply_pending, messages_store
from apps.integration.models import Channel, Message, PatientLink
from apps.integration.parsing import parse
from apps.scheduling.models import Patient
from apps.tenants.models import Tenant
from tests.integration.conftest import inbound
from tests.integration.traffic import MllpClient, adt, enhanced, merge


def a_phone() -> str:
    return f"+9198{random.randrange(10**7, 10**8)}"


def an_identifier() -> str:
    return f"MRN{random.randrange(10**8, 10**9)}"


def register(tenant: Tenant, channel: Channel, **fields: str) -> str:
    values = {"identifier": an_identifier(), "phone": a_phone(), **fields}
    return adt("A04", tenant=tenant.slug, facility=channel.sending_facility, **values)


def statements(captured: CaptureQueriesContext) -> list[str]:
    """What was sent, but for the connection's own schema switches."""
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("SET ")]


def stored(tenant: Tenant, channel: Channel) -> list[Message]:
    with schema_context(tenant.schema_name):
        return list(Message.objects.filter(channel=channel).order_by("id"))


def test_a_batch_is_stored_in_one_insert_and_a_repeat_is_answered_by_the_first_row(
    tenant: Tenant,
) -> None:
    channel = inbound(tenant)
    texts = [register(tenant, channel, control_id=f"B-{n}") for n in range(20)]
    incoming = [(parse(text)[1], text) for text in texts]
    with CaptureQueriesContext(connection) as small:
        messages_store(channel=channel, incoming=incoming[:2])
    with CaptureQueriesContext(connection) as large:
        # 18 new ones, a repeat of one stored before and one repeated within the batch.
        result = messages_store(channel=channel, incoming=[*incoming[2:], incoming[0], incoming[5]])
    assert len(statements(large)) == len(statements(small))
    inserts = [sql for sql in statements(large) if sql.startswith("INSERT")]
    assert len(inserts) == 1
    assert [new for _, new in result] == [True] * 18 + [False, False]
    first_five = Message.objects.get(channel=channel, control_id="B-5")
    assert result[-1][0].pk == first_five.pk == result[3][0].pk
    assert Message.objects.filter(channel=channel).count() == 20
    assert [m.raw for m in Message.objects.filter(channel=channel).order_by("id")] == texts


def test_a_batch_is_applied_in_one_transaction_and_a_failure_undoes_only_its_message(
    tenant: Tenant,
) -> None:
    channel = inbound(tenant)
    texts = [register(tenant, channel) for _ in range(9)]
    texts.insert(4, register(tenant, channel, phone=""))  # cannot be applied: no phone
    messages_store(channel=channel, incoming=[(parse(text)[1], text) for text in texts])
    with CaptureQueriesContext(connection) as applying:
        done = apply_pending(channel)
    statuses = [m.status for m in Message.objects.filter(channel=channel).order_by("id")]
    assert (
        statuses
        == [Message.Status.APPLIED] * 4 + [Message.Status.ERROR] + [Message.Status.APPLIED] * 5
    )
    assert [done[pk].status for pk in sorted(done)] == statuses
    assert PatientLink.objects.filter(channel=channel).count() == 9
    sql = statements(applying)
    # One commit for the batch; savepoints inside it; the tenant key read once.
    assert sum(1 for s in sql if s.startswith("SAVEPOINT")) >= 10
    assert sum(1 for s in sql if "core_tenantkey" in s) == 1
    assert sum(1 for s in sql if "integration_mappingversion" in s) == 1


def test_a_batch_undone_by_a_failing_message_leaves_the_audit_chain_whole(
    tenant: Tenant,
) -> None:
    """The whole-batch attempt writes the first two registrations' audit entries (the
    trail's head kept for the batch, and ids taken ahead), then its savepoint undoes them
    when the third message fails; the entries written again, a savepoint a message, with the
    ids left over, must follow the head that stayed, not the undone one."""
    channel = inbound(tenant)
    texts = [register(tenant, channel) for _ in range(6)]
    texts.insert(2, register(tenant, channel, phone=""))  # cannot be applied: no phone
    messages_store(channel=channel, incoming=[(parse(text)[1], text) for text in texts])

    apply_pending(channel)

    statuses = [m.status for m in Message.objects.filter(channel=channel).order_by("id")]
    assert (
        statuses
        == [Message.Status.APPLIED] * 2 + [Message.Status.ERROR] + [Message.Status.APPLIED] * 4
    )
    assert AuditEntry.objects.filter(action="event.appended").count() == Event.objects.count()
    out = StringIO()
    call_command("verify_audit", "--tenant", tenant.slug, stdout=out)
    assert f"{tenant.slug}: ok" in out.getvalue()


def test_pipelined_messages_of_several_connections_each_get_their_own_code(
    node: Tenant, listener: int
) -> None:
    channel = inbound(node)
    good = [register(node, channel, control_id=f"G-{n}-{uuid.uuid4().hex[:6]}") for n in range(8)]
    bad = register(node, channel, phone="", control_id="BAD-1")
    unknown = adt(
        "A08", tenant=node.slug, facility=channel.sending_facility, identifier="NEVER",
        phone=a_phone(), control_id="BAD-2",
    )  # fmt: skip
    first, second = [good[0], bad, *good[1:4]], [good[4], unknown, *good[5:]]
    with MllpClient(listener) as one, MllpClient(listener) as two:
        for a, b in zip(first, second, strict=True):
            one.write(a)
            two.write(b)
        answers_one = [one.read() for _ in first]
        answers_two = [two.read() for _ in second]
    assert [(a.code, a.control_id) for a in answers_one] == [
        ("AA", parse(t)[1].control_id) if t != bad else ("AE", "BAD-1") for t in first
    ]
    assert [(a.code, a.control_id) for a in answers_two] == [
        ("AA", parse(t)[1].control_id) if t != unknown else ("AE", "BAD-2") for t in second
    ]
    assert answers_one[1].text.startswith("phone:")
    rows = stored(node, channel)
    assert (
        sorted(m.status for m in rows) == [Message.Status.APPLIED] * 8 + [Message.Status.ERROR] * 2
    )
    with schema_context(node.schema_name):
        applied = [m for m in rows if m.status == Message.Status.APPLIED]
        assert Patient.objects.filter(pk__in=[m.patient_id for m in applied]).count() == 8


def test_a_held_channel_holds_the_rest_of_a_pipelined_batch_behind_its_error(
    node: Tenant, listener: int
) -> None:
    channel = inbound(node, hold_on_error=True)
    texts = [register(node, channel), register(node, channel, phone=""),
             register(node, channel), register(node, channel)]  # fmt: skip
    with MllpClient(listener) as client:
        for text in texts:
            client.write(text)
        codes = [client.read().code for _ in texts]
    assert codes == ["AA", "AE", "AE", "AE"]
    assert [m.status for m in stored(node, channel)] == [
        Message.Status.APPLIED, Message.Status.ERROR, Message.Status.HELD, Message.Status.HELD
    ]  # fmt: skip


def test_the_enhanced_mode_is_answered_ca_once_stored_and_applied_after(
    node: Tenant, listener: int
) -> None:
    channel = inbound(node)
    good = enhanced(register(node, channel, control_id="E-1"))
    bad = enhanced(register(node, channel, phone="", control_id="E-2"))
    refused = enhanced(
        adt("A04", tenant=node.slug, facility="NOSUCHHOSP", identifier="X", control_id="E-3")
    )
    original = register(node, channel, control_id="O-1")
    with MllpClient(listener) as client:
        answers = [client.send(text) for text in (good, bad, refused, original, good)]
    assert [(a.code, a.control_id) for a in answers] == [
        ("CA", "E-1"), ("CA", "E-2"), ("CR", "E-3"), ("AA", "O-1"), ("CA", "E-1")
    ]  # fmt: skip
    assert "MSH-4" in answers[2].text
    deadline = time.monotonic() + 20
    while any(m.status == Message.Status.RECEIVED for m in stored(node, channel)):
        assert time.monotonic() < deadline, "the enhanced-mode messages were never applied"
        time.sleep(0.1)
    assert [(m.control_id, m.status) for m in stored(node, channel)] == [
        ("E-1", Message.Status.APPLIED), ("E-2", Message.Status.ERROR),
        ("O-1", Message.Status.APPLIED),
    ]  # fmt: skip


def test_a_batch_that_applies_whole_takes_no_savepoint_of_its_own_a_message(
    tenant: Tenant,
) -> None:
    channel = inbound(tenant)
    texts = [register(tenant, channel) for _ in range(10)]
    messages_store(channel=channel, incoming=[(parse(text)[1], text) for text in texts])
    with CaptureQueriesContext(connection) as applying:
        done = apply_pending(channel)
    assert [m.status for m in done.values()] == [Message.Status.APPLIED] * 10
    assert PatientLink.objects.filter(channel=channel).count() == 10
    sql = statements(applying)
    savepoints = [s for s in sql if s.startswith("SAVEPOINT")]
    # apply_pending's transaction (a savepoint inside the test's) and one around the batch:
    # none of a message's own (a batch with a failure, as above, is applied again with one a
    # message), and none of the registration commands' own (the batch's is their unit of
    # failure).
    assert len(savepoints) == 2
    # The batch's identifiers are looked up in one query, not one a message.
    assert sum(1 for s in sql if s.startswith("SELECT") and "integration_patientlink" in s) == 1


def test_a_batch_that_registers_updates_and_merges_reads_its_links_once_and_stays_right(
    tenant: Tenant,
) -> None:
    """Links made earlier in the same batch are found by its later messages, and a merge in
    the batch sends the later ones to the survivor."""
    channel = inbound(tenant)
    facility = channel.sending_facility
    first, second, known = an_identifier(), an_identifier(), an_identifier()
    earlier = [register(tenant, channel, identifier=known)]
    messages_store(channel=channel, incoming=[(parse(t)[1], t) for t in earlier])
    apply_pending(channel)
    texts = [
        register(tenant, channel, identifier=first, name="Dev^Asha"),
        register(tenant, channel, identifier=second, name="Rao^Asha"),
        adt("A08", tenant=tenant.slug, facility=facility, identifier=first, name="Devi^Asha",
            phone=a_phone()),
        adt("A08", tenant=tenant.slug, facility=facility, identifier=known, name="Known^Ravi",
            phone=a_phone()),
        merge(tenant=tenant.slug, facility=facility, survivor=first, duplicate=second),
        adt("A08", tenant=tenant.slug, facility=facility, identifier=second, name="Merged^Asha",
            phone=a_phone()),
    ]  # fmt: skip
    messages_store(channel=channel, incoming=[(parse(t)[1], t) for t in texts])
    with CaptureQueriesContext(connection) as applying:
        done = apply_pending(channel)
    assert [m.status for m in done.values()] == [Message.Status.APPLIED] * len(texts)
    links = [s for s in statements(applying) if s.startswith("SELECT") and "patientlink" in s]
    # One read for the batch, then one for the message after the merge.
    assert len(links) == 2
    rows = list(Message.objects.filter(channel=channel).order_by("id"))
    survivor = Patient.objects.get(pk=rows[1].patient_id)
    assert rows[3].patient_id == survivor.pk
    assert rows[6].patient_id == survivor.pk  # the merged identifier reaches the survivor
    assert survivor.name == "Asha Merged"
    assert Patient.objects.get(pk=rows[2].patient_id).merged_into_id == survivor.pk
    assert Patient.objects.get(pk=rows[4].patient_id).name == "Ravi Known"
    assert rows[4].patient_id == rows[0].patient_id
