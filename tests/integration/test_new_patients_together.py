"""A batch's registrations, admissions and updates written together (`BatchWrites`,
`AppendBatch`): the same rows, events and audit entries as the commands make one message
at a time, in a number of statements that does not grow with the batch."""

import random
from datetime import timedelta
from io import StringIO
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.audit.models import AuditEntry
from apps.eventstore.locks import holding_append_lock
from apps.eventstore.models import Event
from apps.integration.commands import BatchLinks, apply_message, apply_pending, messages_store
from apps.integration.mapping import Extracted
from apps.integration.models import Admission, Channel, Message, PatientLink
from apps.integration.parsing import parse
from apps.integration.replay import replay_check
from apps.scheduling.models import Patient
from apps.tenants.models import Tenant
from tests.conftest import own_connection
from tests.integration.conftest import inbound
from tests.integration.traffic import adt, merge


def a_phone() -> str:
    return f"+9198{random.randrange(10**7, 10**8)}"


def store(channel: Channel, texts: list[str]) -> None:
    messages_store(channel=channel, incoming=[(parse(text)[1], text) for text in texts])


def statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("SET ")]


def feed(tenant: Tenant, channel: Channel) -> list[str]:
    """New patients in runs, broken by messages the commands apply: an update of a patient
    registered earlier in the batch, a second registration of one, a merge, a discharge."""
    sent = {"tenant": tenant.slug, "facility": channel.sending_facility}
    return [
        adt("A04", identifier="P1", name="Dev^Asha", phone=a_phone(), **sent),
        adt("A01", identifier="P2", name="Rao^Ravi", phone=a_phone(), **sent),
        adt("A04", identifier="P3", name="Iyer^Meena", phone=a_phone(), **sent),
        adt("A08", identifier="P1", name="Devi^Asha", phone=a_phone(), **sent),
        adt("A04", identifier="P3", name="Iyer^Meenakshi", phone=a_phone(), **sent),
        adt("A04", identifier="P4", name="Khan^Imran", phone=a_phone(), **sent),
        adt("A01", identifier="P5", name="Das^Mita", phone=a_phone(), **sent),
        merge(survivor="P1", duplicate="P4", **sent),
        adt("A03", identifier="P2", **sent),
        adt("A04", identifier="P6", name="Nair^Anu", phone=a_phone(), **sent),
    ]


def canonical(events: list[Event]) -> list[tuple[Any, ...]]:
    """The events with every id replaced by the order in which it first appears (two
    channels' feeds make different ids, the same shape)."""
    seen: dict[tuple[str, int], int] = {}

    def named(kind: str, pk: Any) -> Any:
        return seen.setdefault((kind, pk), len(seen)) if isinstance(pk, int) else pk

    kinds = {"patient_id": "patient", "into": "patient", "channel_id": "channel"}
    out = []
    for event in events:
        kind, pk = event.stream.rsplit("-", 1)
        data = {
            key: named(kind if key == "id" else kinds.get(key, key), value)
            for key, value in event.data.items()
        }
        out.append((event.type, kind, named(kind, int(pk)), event.version, data))
    return out


def test_new_patients_written_together_are_what_the_commands_make_one_at_a_time(
    tenant: Tenant,
) -> None:
    together, one_by_one = inbound(tenant), inbound(tenant)
    start = Event.objects.order_by("-position").values_list("position", flat=True).first() or 0
    store(together, feed(tenant, together))
    apply_pending(together)
    middle = Event.objects.order_by("-position").values_list("position", flat=True).first()
    for text in feed(tenant, one_by_one):
        with transaction.atomic():
            apply_message(channel=one_by_one, raw=text)

    ours = list(Event.objects.filter(position__gt=start, position__lte=middle))
    theirs = list(Event.objects.filter(position__gt=middle))
    assert canonical(ours) == canonical(theirs)
    # Registrations 2 each (the patient, its link), admissions 3 (and the stay), the two
    # updates, the merge and the discharge 1 each.
    assert len(ours) == 4 * 2 + 2 * 3 + 4
    # Every event has its audit entry, in position order, and the chain holds.
    audited = [
        int(target.split(":")[1])
        for target in AuditEntry.objects.filter(action="event.appended")
        .order_by("id")
        .values_list("target", flat=True)
    ]
    assert audited[-len(ours) - len(theirs) :] == [e.position for e in ours + theirs]
    out = StringIO()
    call_command("verify_audit", "--tenant", tenant.slug, stdout=out)
    assert f"{tenant.slug}: ok" in out.getvalue()
    rows = list(Message.objects.filter(channel=together).order_by("id"))
    assert [m.status for m in rows] == [Message.Status.APPLIED] * len(rows)
    made = [Patient.objects.get(pk=m.patient_id) for m in rows]
    assert [made[n].name for n in (0, 1, 2, 6, 9)] == [
        "Asha Devi", "Ravi Rao", "Meenakshi Iyer", "Mita Das", "Anu Nair"
    ]  # fmt: skip
    assert made[5].merged_into_id == made[0].pk
    for channel in (together, one_by_one):
        assert PatientLink.objects.filter(channel=channel).count() == 6
        stays = Admission.objects.filter(channel=channel).order_by("id")
        assert [a.status for a in stays] == [Admission.Status.DISCHARGED, Admission.Status.ADMITTED]
    # Replayed a message at a time through the commands, the feed makes the same patients.
    report = replay_check(
        actor=None,
        channel=together,
        start=rows[0].received_at,
        end=timezone.now() + timedelta(seconds=1),
    )
    assert report.messages == len(rows)
    assert report.different == []
    assert report.patients_live == report.patients_scratch == 5


def test_a_batch_takes_as_many_statements_whatever_its_size(tenant: Tenant) -> None:
    def applying(count: int) -> list[str]:
        channel = inbound(tenant)
        sent = {"tenant": tenant.slug, "facility": channel.sending_facility}
        store(
            channel, [adt("A04", identifier=f"K{n}", phone=a_phone(), **sent) for n in range(count)]
        )
        apply_pending(channel)
        texts = []
        for n in range(count):
            texts += [
                # Known before the batch, new in it (an admission every third), and updated
                # after it was registered in the batch.
                adt("A08", identifier=f"K{n}", name="Devi^Asha", phone=a_phone(), **sent),
                adt("A01" if n % 3 == 0 else "A04", identifier=f"N{n}", phone=a_phone(), **sent),
                adt("A08", identifier=f"N{n}", name="Rao^Ravi", phone=a_phone(), **sent),
            ]
        store(channel, texts)
        with CaptureQueriesContext(connection) as captured:
            done = apply_pending(channel)
        assert [m.status for m in done.values()] == [Message.Status.APPLIED] * len(texts)
        assert PatientLink.objects.filter(channel=channel).count() == 2 * count
        made = Patient.objects.filter(pk__in=[m.patient_id for m in done.values()])
        assert {patient.name for patient in made} == {"Asha Devi", "Ravi Rao"}
        return statements(captured)

    small, large = applying(3), applying(30)
    assert len(large) == len(small)
    writes = [s.split('"')[1] for s in large if s.startswith(("INSERT", 'UPDATE "'))]
    assert writes == [
        "scheduling_patient",
        "integration_patientlink",
        "integration_admission",
        "scheduling_patient",
        "eventstore_event",
        "audit_auditentry",
    ]
    assert sum(s.startswith("SAVEPOINT") for s in large) == 2


def test_a_batch_undone_after_its_new_patients_were_written_leaves_the_trail_whole(
    tenant: Tenant,
) -> None:
    """The first run is written (rows, events, audit entries in one insert) before the
    update the commands apply; the last message fails, the batch's savepoint undoes it all,
    and the batch goes again a message at a time: the trail must follow the head that
    stayed, and no id or event of the undone run may be left behind."""
    channel = inbound(tenant)
    sent = {"tenant": tenant.slug, "facility": channel.sending_facility}
    before, patients = Event.objects.count(), Patient.objects.count()
    store(
        channel,
        [
            adt("A04", identifier="U1", phone=a_phone(), **sent),
            adt("A04", identifier="U2", phone=a_phone(), **sent),
            adt("A08", identifier="U1", name="Devi^Asha", phone=a_phone(), **sent),
            adt("A04", identifier="U3", phone="", **sent),  # no phone: refused
        ],
    )

    apply_pending(channel)

    statuses = [m.status for m in Message.objects.filter(channel=channel).order_by("id")]
    assert statuses == [Message.Status.APPLIED] * 3 + [Message.Status.ERROR]
    # Two registrations (patient and link) and an update.
    assert Event.objects.count() - before == 5
    assert PatientLink.objects.filter(channel=channel).count() == 2
    assert Patient.objects.count() - patients == 2
    assert AuditEntry.objects.filter(action="event.appended").count() == Event.objects.count()
    out = StringIO()
    call_command("verify_audit", "--tenant", tenant.slug, stdout=out)
    assert f"{tenant.slug}: ok" in out.getvalue()


def test_the_patients_a_batch_may_change_are_locked_until_it_commits(node: Tenant) -> None:
    """A batch changes the patients its links read without a command's own row lock: the
    read takes it. Another writer of the row (a key rotation, the front desk) waits for the
    batch, so neither overwrites what the other wrote."""
    with schema_context(node.schema_name):
        channel = inbound(node)
        sent = {"tenant": node.slug, "facility": channel.sending_facility}
        store(channel, [adt("A04", identifier="L1", phone=a_phone(), **sent)])
        apply_pending(channel)
        patient_id = Message.objects.get(channel=channel).patient_id
        with own_connection(schema=node.schema_name, autocommit=True) as other:
            lock = "SELECT id FROM scheduling_patient WHERE id = %s FOR UPDATE NOWAIT"
            with transaction.atomic(), holding_append_lock():
                links = BatchLinks(channel, [Extracted("update", "A08", {"identifier": "L1"})])
                assert links.lookup("L1")[1].pk == patient_id
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    other.execute(lock, [patient_id])
            # Once the batch's transaction ends, the row is free again.
            assert other.execute(lock, [patient_id]).fetchone() == (patient_id,)
