"""HL7 v2 over MLLP through the real listener process: store before ACK, every ACK code,
duplicates, order per channel, hold on error, a crash between store and apply, A01-A40."""

import random
import threading
import time
from typing import Any

from django_tenants.utils import schema_context

from apps.clinic.models import Role, User
from apps.eventstore.models import Event
from apps.integration import events
from apps.integration.commands import message_store
from apps.integration.models import Admission, Message, PatientLink
from apps.integration.parsing import parse
from apps.scheduling import events as scheduling_events
from apps.scheduling.models import Patient
from apps.tenants.models import Tenant
from tests.conftest import client_for
from tests.integration.conftest import inbound, start_listener, stop_listener
from tests.integration.traffic import MllpClient, adt, merge


def a_phone() -> str:
    return f"+9198{random.randrange(10**7, 10**8)}"


def an_identifier() -> str:
    return f"MRN{random.randrange(10**8, 10**9)}"


def stored(tenant: Tenant, channel_id: int) -> list[Message]:
    with schema_context(tenant.schema_name):
        return list(Message.objects.filter(channel_id=channel_id).order_by("id"))


def test_an_a04_is_stored_applied_acknowledged_aa_and_found_by_phone(
    node: Tenant, listener: int
) -> None:
    channel = inbound(node)
    phone = a_phone()
    text = adt(
        "A04",
        tenant=node.slug,
        facility=channel.sending_facility,
        identifier=an_identifier(),
        name="Sharma^Anita",
        phone=phone,
        control_id="C-1",
    )
    with MllpClient(listener) as client:
        answer = client.send(text)
    assert (answer.code, answer.control_id) == ("AA", "C-1")
    [message] = stored(node, channel.pk)
    assert message.status == Message.Status.APPLIED
    with schema_context(node.schema_name):
        owner = User.objects.get(role=Role.OWNER)
        assert message.raw == text  # sealed, and read back whole
        registered = Event.objects.filter(type=scheduling_events.PATIENT_REGISTERED).last()
        assert registered is not None and registered.data["id"] == message.patient_id
        assert "Anita" not in str(registered.data) and phone not in str(registered.data)
    found = client_for(owner, node).get("/api/v1/patients/", {"phone": phone})
    assert found.status_code == 200
    assert [(p["id"], p["name"]) for p in found.json()["results"]] == [
        (message.patient_id, "Anita Sharma")
    ]


def test_a_resent_control_id_is_aa_with_no_second_patient(node: Tenant, listener: int) -> None:
    channel = inbound(node)
    text = adt(
        "A04",
        tenant=node.slug,
        facility=channel.sending_facility,
        identifier=an_identifier(),
        phone=a_phone(),
    )
    with MllpClient(listener) as client:
        first = client.send(text)
    with MllpClient(listener) as client:
        again = client.send(text)
    assert (first.code, again.code) == ("AA", "AA")
    [message] = stored(node, channel.pk)
    with schema_context(node.schema_name):
        assert PatientLink.objects.filter(channel_id=channel.pk).count() == 1
        assert (
            Event.objects.filter(
                type=scheduling_events.PATIENT_REGISTERED, data__id=message.patient_id
            ).count()
            == 1
        )


def test_unknown_tenant_unknown_channel_and_garbage_are_refused_ar(
    node: Tenant, listener: int
) -> None:
    channel = inbound(node)
    with MllpClient(listener) as client:
        no_tenant = client.send(
            adt("A04", tenant="nobody-here", facility=channel.sending_facility, identifier="X1")
        )
        no_channel = client.send(
            adt("A04", tenant=node.slug, facility="NOSUCHHOSP", identifier="X1")
        )
        garbage = client.send("this is not HL7")
        no_control_id = client.send(
            f"MSH|^~\\&|HIS|{channel.sending_facility}|MYMEDIC|{node.slug}|||ADT^A04|"
        )
    assert [a.code for a in (no_tenant, no_channel, garbage, no_control_id)] == ["AR"] * 4
    assert "MSH-6" in no_tenant.text and "MSH-4" in no_channel.text
    assert stored(node, channel.pk) == []


def test_a_message_that_cannot_be_applied_is_ae_and_waits_in_the_error_queue(
    node: Tenant, listener: int
) -> None:
    channel = inbound(node)
    with MllpClient(listener) as client:
        answer = client.send(
            adt(
                "A04",
                tenant=node.slug,
                facility=channel.sending_facility,
                identifier=an_identifier(),
                phone="",
            )
        )
        unknown = client.send(
            adt(
                "A08",
                tenant=node.slug,
                facility=channel.sending_facility,
                identifier="NEVER-SEEN",
                phone=a_phone(),
            )
        )
    assert (answer.code, unknown.code) == ("AE", "AE")
    assert answer.text.startswith("phone:")
    assert "not known" in unknown.text
    assert [(m.status, m.attempts) for m in stored(node, channel.pk)] == [
        (Message.Status.ERROR, 1),
        (Message.Status.ERROR, 1),
    ]


def test_an_a08_updates_and_an_a03_after_an_a01_discharges(node: Tenant, listener: int) -> None:
    channel = inbound(node)
    identifier, phone, new_phone = an_identifier(), a_phone(), a_phone()
    facility = channel.sending_facility
    with MllpClient(listener) as client:
        codes = [
            client.send(
                adt("A01", tenant=node.slug, facility=facility, identifier=identifier, phone=phone)
            ).code,
            client.send(
                adt(
                    "A08",
                    tenant=node.slug,
                    facility=facility,
                    identifier=identifier,
                    name="Sharma^Anita^R",
                    birth="19850313",
                    phone=new_phone,
                )
            ).code,
            client.send(
                adt(
                    "A03",
                    tenant=node.slug,
                    facility=facility,
                    identifier=identifier,
                    phone=new_phone,
                )
            ).code,
        ]
    assert codes == ["AA", "AA", "AA"]
    with schema_context(node.schema_name):
        patient = Patient.objects.get(pk=stored(node, channel.pk)[0].patient_id)
        assert (patient.name, patient.phone, str(patient.date_of_birth)) == (
            "Anita R Sharma",
            new_phone,
            "1985-03-13",
        )
        [stay] = Admission.objects.filter(patient=patient)
        assert stay.status == Admission.Status.DISCHARGED and stay.discharged_at is not None
        kinds = list(
            Event.objects.filter(
                data__patient_id=patient.pk,
                type__in=[events.PATIENT_ADMITTED, events.PATIENT_DISCHARGED],
            ).values_list("type", flat=True)
        )
        assert kinds == [events.PATIENT_ADMITTED, events.PATIENT_DISCHARGED]
        updated = Event.objects.get(type=scheduling_events.PATIENT_UPDATED, data__id=patient.pk)
        assert updated.data["changed"] == ["date_of_birth", "name", "phone"]


def test_an_a40_merges_the_duplicate_with_its_visits_into_the_survivor(
    node: Tenant, listener: int, django_db_blocker: Any
) -> None:
    channel = inbound(node)
    keep, duplicate_id = an_identifier(), an_identifier()
    facility = channel.sending_facility
    with MllpClient(listener) as client:
        assert (
            client.send(
                adt("A04", tenant=node.slug, facility=facility, identifier=keep, phone=a_phone())
            ).code
            == "AA"
        )
        assert (
            client.send(
                adt(
                    "A04",
                    tenant=node.slug,
                    facility=facility,
                    identifier=duplicate_id,
                    phone=a_phone(),
                )
            ).code
            == "AA"
        )
    survivor_id, duplicate_pk = (m.patient_id for m in stored(node, channel.pk))
    with schema_context(node.schema_name):
        visit = book_a_visit(Patient.objects.get(pk=duplicate_pk))
    with MllpClient(listener) as client:
        answer = client.send(
            merge(tenant=node.slug, facility=facility, survivor=keep, duplicate=duplicate_id)
        )
        # Later traffic about the merged-away identifier reaches the survivor.
        later = client.send(
            adt(
                "A08",
                tenant=node.slug,
                facility=facility,
                identifier=duplicate_id,
                name="Sharma^Anita^K",
                phone=a_phone(),
            )
        )
    assert (answer.code, later.code) == ("AA", "AA")
    with schema_context(node.schema_name):
        duplicate = Patient.objects.get(pk=duplicate_pk)
        assert duplicate.merged_into_id == survivor_id
        merged = Event.objects.get(type=scheduling_events.PATIENT_MERGED, data__id=duplicate_pk)
        assert merged.data["into"] == survivor_id
        assert merged.data["appointment_ids"] == [visit]
        assert Patient.objects.get(pk=survivor_id).name == "Anita K Sharma"
    assert [m.patient_id for m in stored(node, channel.pk)][-1] == survivor_id


def book_a_visit(patient: Patient) -> int:
    """A visit at 10:00 clinic time the day after tomorrow, whatever the hour now."""
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from apps.clinic.models import Branch
    from apps.scheduling.commands import appointment_book
    from tests.scheduling.factories import DoctorFactory

    branch = Branch.objects.first()
    assert branch is not None
    zone = ZoneInfo(branch.timezone)
    doctor = DoctorFactory(
        branch=branch,
        weekly_hours=[{"weekday": d, "start": "08:00", "end": "20:00"} for d in range(7)],
    )
    day = timezone.now().astimezone(zone).date() + timedelta(days=2)
    start = datetime.combine(day, time(10), tzinfo=zone)
    return appointment_book(actor=None, doctor=doctor, patient=patient, start=start).pk


def test_a_channel_that_holds_on_error_applies_nothing_after_an_ae_until_reprocessed(
    node: Tenant, listener: int
) -> None:
    channel = inbound(node, hold_on_error=True)
    facility, first, second = channel.sending_facility, an_identifier(), an_identifier()
    with MllpClient(listener) as client:
        bad = client.send(
            adt("A04", tenant=node.slug, facility=facility, identifier=first, phone="")
        )
        behind = client.send(
            adt("A04", tenant=node.slug, facility=facility, identifier=second, phone=a_phone())
        )
    assert (bad.code, behind.code) == ("AE", "AE")
    assert [m.status for m in stored(node, channel.pk)] == [
        Message.Status.ERROR,
        Message.Status.HELD,
    ]
    owner_api = owner_client(node)
    queue = owner_api.get("/api/v1/integrations/hl7/messages/", {"status": "error"}).json()
    error_id = stored(node, channel.pk)[0].pk
    assert error_id in [row["id"] for row in queue["results"]]
    # The person adds the missing phone (PID-13) to the message and sends it through again.
    fixed = stored_raw(node, error_id).rstrip("\r") + "||||||" + a_phone()
    answer = owner_api.post(
        f"/api/v1/integrations/hl7/messages/{error_id}/reprocess/", {"raw": fixed}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["status"] == "applied"
    applied = stored(node, channel.pk)
    assert [m.status for m in applied] == [Message.Status.APPLIED] * 2
    assert applied[0].applied_at < applied[1].applied_at


def owner_client(tenant: Tenant) -> Any:
    with schema_context(tenant.schema_name):
        owner = User.objects.get(role=Role.OWNER)
    return client_for(owner, tenant)


def stored_raw(tenant: Tenant, pk: int) -> str:
    with schema_context(tenant.schema_name):
        return Message.objects.get(pk=pk).raw


def test_a_message_stored_before_a_crash_is_applied_once_on_the_resend(node: Tenant) -> None:
    channel = inbound(node)
    text = adt(
        "A04",
        tenant=node.slug,
        facility=channel.sending_facility,
        identifier=an_identifier(),
        phone=a_phone(),
    )
    # The listener committed the message and died before applying it (no ACK was sent).
    with schema_context(node.schema_name):
        _, header = parse(text)
        message_store(channel=channel, header=header, raw=text)
    assert [m.status for m in stored(node, channel.pk)] == [Message.Status.RECEIVED]
    process, port = start_listener()
    try:
        with MllpClient(port) as client:
            answer = client.send(text)  # the sender's resend after its ACK timeout
    finally:
        stop_listener(process)
    assert answer.code == "AA"
    [message] = stored(node, channel.pk)
    assert message.status == Message.Status.APPLIED and message.attempts == 1
    with schema_context(node.schema_name):
        assert PatientLink.objects.filter(channel_id=channel.pk).count() == 1


def test_concurrent_connections_are_applied_in_the_order_they_were_stored(
    node: Tenant, listener: int
) -> None:
    channel = inbound(node)
    facility = channel.sending_facility
    codes: list[str] = []

    def sender(n: int) -> None:
        identifier = an_identifier()
        with MllpClient(listener) as client:
            codes.append(
                client.send(
                    adt(
                        "A04",
                        tenant=node.slug,
                        facility=facility,
                        identifier=identifier,
                        phone=a_phone(),
                    )
                ).code
            )
            for k in range(4):
                codes.append(
                    client.send(
                        adt(
                            "A08",
                            tenant=node.slug,
                            facility=facility,
                            identifier=identifier,
                            name=f"Sharma^Anita^{n}{k}",
                            phone=a_phone(),
                        )
                    ).code
                )

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert codes == ["AA"] * 30
    messages = stored(node, channel.pk)
    assert len(messages) == 30
    applied_order = sorted(messages, key=lambda m: m.applied_at)
    assert [m.pk for m in applied_order] == [m.pk for m in messages]


def test_pipelined_messages_are_answered_in_order_through_a_small_queue(node: Tenant) -> None:
    channel = inbound(node)
    process, port = start_listener(MYMEDIC_MLLP_QUEUE="2")
    texts = [
        adt(
            "A04",
            tenant=node.slug,
            facility=channel.sending_facility,
            identifier=an_identifier(),
            phone=a_phone(),
            control_id=f"P-{n}",
        )
        for n in range(12)
    ]
    try:
        with MllpClient(port) as client:
            for text in texts:  # all written before any ACK is read
                client.write(text)
            answers = [client.read() for _ in texts]
    finally:
        stop_listener(process)
    assert [(a.code, a.control_id) for a in answers] == [("AA", f"P-{n}") for n in range(12)]


def test_an_oversized_message_is_refused_and_an_idle_connection_closed(node: Tenant) -> None:
    channel = inbound(node)
    process, port = start_listener(MYMEDIC_MLLP_MAX_BYTES="2000", MYMEDIC_MLLP_IDLE_SECONDS="1")
    try:
        refuses_oversized_and_closes_idle(port, node, channel.sending_facility)
    finally:
        stop_listener(process)
    assert stored(node, channel.pk) == []


def refuses_oversized_and_closes_idle(port: int, node: Tenant, facility: str) -> None:
    with MllpClient(port) as client:
        huge = adt(
            "A04",
            tenant=node.slug,
            facility=facility,
            identifier=an_identifier(),
            name="Sharma^" + "A" * 3000,
            phone=a_phone(),
        )
        answer = client.send(huge)
        assert answer.code == "AR" and "2000 bytes" in answer.text
        assert client.sock.recv(10) == b""  # and the connection is closed
    with MllpClient(port) as idle:
        started = time.monotonic()
        assert idle.sock.recv(10) == b""
        assert 0.8 < time.monotonic() - started < 5
