"""The relay against a real nats-server: every committed event once, in order, with its id,
subject and the events API's payload; the position moves only past what the bus acknowledged;
tenants with work come from the index; lag shows in /metrics."""

import threading
import time
from datetime import datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.clinic.models import Branch, User
from apps.eventbus import relay
from apps.eventbus.natsserver import NatsServer
from apps.eventbus.publishers import BusUnavailable, NatsPublisher
from apps.eventstore.models import Event
from apps.scheduling import commands
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.conftest import client_for, own_connection
from tests.eventbus.conftest import read_stream
from tests.scheduling.factories import DoctorFactory, PatientFactory

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def book_some(count: int) -> None:
    branch = Branch.objects.get()
    doctor = DoctorFactory(
        branch=branch, weekly_hours=[{"weekday": 1, "start": "08:00", "end": "20:00"}]
    )
    patient = PatientFactory(name="Relay Patient", phone="+919800000091")
    made = [
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 8 + h))
        for h in range(count)
    ]
    commands.appointment_cancel(actor=None, appointment=made[0], reason="bus test")


def relay_when_back(publisher: NatsPublisher, seconds: float = 30) -> int:
    """What the relay's loop does after a failure: tries again until the bus answers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return relay.relay_pending(publisher)
        except BusUnavailable as failure:
            print(f"bus not back yet: {failure}")
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def subjects_of(tenant: Tenant) -> str:
    return f"mymedic.events.{tenant.region}.{tenant.slug}.>"


def test_every_committed_event_reaches_the_stream_once_in_order_as_the_events_api_shows_it(
    committed_tenant: Tenant, django_db_blocker: Any, bus: NatsServer
) -> None:
    publisher = NatsPublisher([bus.url])
    try:
        with django_db_blocker.unblock():
            with schema_context(committed_tenant.schema_name):
                book_some(4)
                owner = User.objects.get(email=f"owner@{committed_tenant.slug}.example.com")
                head = Event.objects.order_by("-position").values_list("position", flat=True)[0]
            api_events = (
                client_for(owner, committed_tenant).get("/api/v1/events/?limit=1000").json()
            )
            published = relay.relay_pending(publisher)
            again = relay.relay_pending(publisher)
            relayed = relay.relayed_position(committed_tenant.schema_name)
    finally:
        publisher.close()

    received = read_stream(bus.url, subjects_of(committed_tenant))
    slug = committed_tenant.slug
    assert published >= len(api_events) > 5  # onboarding's events, the doctor's, the bookings
    assert again == 0
    assert relayed == head
    assert [m.message_id for m in received] == [f"{slug}:{e['position']}" for e in api_events]
    for message, event in zip(received, api_events, strict=True):
        stream_type = event["stream"].rsplit("-", 1)[0]
        assert message.subject == f"mymedic.events.in.{slug}.{stream_type}"
        when = datetime.fromisoformat(message.payload.pop("occurred_at"))
        assert when == datetime.fromisoformat(event.pop("occurred_at"))
        assert message.payload == {**event, "tenant": slug}
    assert {m.subject.split(".")[4] for m in received} >= {"appointment", "doctor", "branch"}


def test_republished_events_are_dropped_by_the_de_duplication_window(
    committed_tenant: Tenant, django_db_blocker: Any, bus: NatsServer
) -> None:
    publisher = NatsPublisher([bus.url])
    try:
        with django_db_blocker.unblock():
            with schema_context(committed_tenant.schema_name):
                book_some(2)
            relay.relay_pending(publisher)
            tenant = relay.Pending(
                committed_tenant.schema_name, committed_tenant.slug, "in", relayed=0, head=0
            )
            # What a relay that died before recording its position would publish again.
            publisher.publish(relay.messages_after(tenant, 1000))
    finally:
        publisher.close()

    ids = [m.message_id for m in read_stream(bus.url, subjects_of(committed_tenant))]
    assert len(ids) == len(set(ids)) > 0


def test_the_relay_position_moves_only_past_what_the_bus_acknowledged(
    committed_tenant: Tenant, django_db_blocker: Any, bus: NatsServer
) -> None:
    publisher = NatsPublisher([bus.url], timeout=1.0)
    schema = committed_tenant.schema_name
    try:
        with django_db_blocker.unblock():
            relay.relay_pending(publisher)
            before = relay.relayed_position(schema)
            with schema_context(schema):
                book_some(3)
            bus.stop()
            with pytest.raises(BusUnavailable):
                relay.relay_pending(publisher)
            assert relay.relayed_position(schema) == before
            bus.start()
            assert relay_when_back(publisher) > 0
            with schema_context(schema):
                head = Event.objects.order_by("-position").values_list("position", flat=True)[0]
            assert relay.relayed_position(schema) == head
    finally:
        publisher.close()

    positions = [m.payload["position"] for m in read_stream(bus.url, subjects_of(committed_tenant))]
    assert positions == sorted(set(positions))
    assert positions[-1] == head


def test_the_tenants_with_events_to_publish_come_from_one_query_of_the_index(
    committed_tenant: Tenant, django_db_blocker: Any, bus: NatsServer
) -> None:
    publisher = NatsPublisher([bus.url])
    try:
        with django_db_blocker.unblock():
            relay.relay_pending(publisher)
            assert relay.pending() == []
            with schema_context(committed_tenant.schema_name):
                book_some(1)
            with CaptureQueriesContext(connection) as queries:
                waiting = relay.pending()
            assert [t.slug for t in waiting] == [committed_tenant.slug]
            asked = [q["sql"] for q in queries if not q["sql"].startswith("SET search_path")]
            assert len(asked) == 1
            assert "eventstore_event" not in asked[0]
            assert waiting[0].head > waiting[0].relayed
    finally:
        publisher.close()


def test_metrics_show_the_relay_lag_per_tenant_and_in_total(
    committed_tenant: Tenant, django_db_blocker: Any, bus: NatsServer, settings: Any
) -> None:
    settings.MYMEDIC_METRICS_TOKEN = "metrics-secret"  # noqa: S105
    settings.MYMEDIC_EVENT_BUS = bus.url
    slug = committed_tenant.slug
    publisher = NatsPublisher([bus.url])

    def scrape() -> dict[str, float]:
        from django.test import Client

        answer = Client(HTTP_HOST="localhost").get(
            "/metrics", HTTP_AUTHORIZATION="Bearer metrics-secret"
        )
        assert answer.status_code == 200
        values = {}
        for line in answer.content.decode().splitlines():
            if line.startswith("mymedic_relay_lag"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

    try:
        with django_db_blocker.unblock():
            relay.relay_pending(publisher)
            with schema_context(committed_tenant.schema_name):
                book_some(2)
            behind = scrape()
            relay.relay_pending(publisher)
            caught_up = scrape()
    finally:
        publisher.close()

    assert behind[f'mymedic_relay_lag_events{{tenant="{slug}"}}'] >= 3
    assert behind[f'mymedic_relay_lag_seconds{{tenant="{slug}"}}'] > 0
    assert behind["mymedic_relay_lag_events_total"] >= 3
    assert behind["mymedic_relay_lag_events_max"] >= 3
    assert behind["mymedic_relay_lag_seconds_max"] > 0
    assert caught_up[f'mymedic_relay_lag_events{{tenant="{slug}"}}'] == 0
    assert caught_up[f'mymedic_relay_lag_seconds{{tenant="{slug}"}}'] == 0
    assert caught_up["mymedic_relay_lag_events_total"] == 0


def test_a_rewound_tenant_is_published_again_from_the_position_given(
    committed_tenant: Tenant, django_db_blocker: Any, bus: NatsServer
) -> None:
    from django.core.management import call_command

    publisher = NatsPublisher([bus.url], duplicate_window_seconds=1)
    try:
        with django_db_blocker.unblock():
            with schema_context(committed_tenant.schema_name):
                book_some(2)
            relay.relay_pending(publisher)
            head = relay.relayed_position(committed_tenant.schema_name)
            time.sleep(1.5)  # past the (test's) de-duplication window
            call_command("relay_events", rewind=f"{committed_tenant.slug}:{head - 2}")
            assert relay.relayed_position(committed_tenant.schema_name) == head - 2
            assert relay.relay_pending(publisher) >= 2
    finally:
        publisher.close()

    positions = [m.payload["position"] for m in read_stream(bus.url, subjects_of(committed_tenant))]
    assert positions[-2:] == positions[-4:-2] == [head - 1, head]


def test_an_append_waiting_behind_an_open_one_is_published_after_it_never_before(
    committed_tenant: Tenant, django_db_blocker: Any, bus: NatsServer
) -> None:
    """Positions are handed out under the append lock, so a later append waits for the open
    one: the relay, passing meanwhile, publishes neither, then both in order."""

    from apps.eventstore.locks import APPEND_LOCK_CLASS

    publisher = NatsPublisher([bus.url])
    schema = committed_tenant.schema_name
    try:
        with django_db_blocker.unblock():
            with schema_context(schema):
                book_some(1)
            relay.relay_pending(publisher)
            before = relay.relayed_position(schema)
            with own_connection(schema=schema) as first:
                first.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))",
                    [APPEND_LOCK_CLASS],
                )
                first.execute(
                    "INSERT INTO eventstore_event (stream, version, type, schema_version, data,"
                    " metadata, occurred_at) VALUES ('probe-1', 1, 'Probe', 1, '{}', '{}', now())"
                )
                second = threading.Thread(target=_book_one_more, args=(schema,))
                second.start()
                time.sleep(0.5)  # the second append is waiting for the lock
                assert relay.relay_pending(publisher) == 0
                assert relay.relayed_position(schema) == before
                first.commit()
            second.join(30)
            relay.relay_pending(publisher)
            with schema_context(schema):
                after = list(
                    Event.objects.filter(position__gt=before).values_list("position", "type")
                )
    finally:
        publisher.close()

    received = read_stream(bus.url, subjects_of(committed_tenant))
    assert after[0][1] == "Probe"
    assert [m.payload["position"] for m in received][-len(after) :] == [p for p, _ in after]


def _book_one_more(schema: str) -> None:
    from django.db import connection as own

    try:
        with schema_context(schema):
            doctor = DoctorFactory(branch=Branch.objects.get())
            assert doctor.pk
    finally:
        own.close()


def test_a_pass_publishes_a_tenant_in_batches_in_order_and_at_most_its_rounds_of_them(
    committed_tenant: Tenant, django_db_blocker: Any, bus: NatsServer
) -> None:
    publisher = NatsPublisher([bus.url])
    schema = committed_tenant.schema_name
    try:
        with django_db_blocker.unblock():
            relay.relay_pending(publisher)
            before = relay.relayed_position(schema)
            with schema_context(schema):
                book_some(4)
                head = Event.objects.order_by("-position").values_list("position", flat=True)[0]
            first_pass = relay.relay_pending(publisher, batch=2, rounds=2)
            after_first_pass = relay.relayed_position(schema)
            while relay.relay_pending(publisher, batch=2, rounds=2):
                pass
            relayed = relay.relayed_position(schema)
    finally:
        publisher.close()

    positions = [m.payload["position"] for m in read_stream(bus.url, subjects_of(committed_tenant))]
    assert head - before > 4
    assert first_pass == 4
    assert after_first_pass == before + 4
    assert relayed == head
    assert [p for p in positions if p > before] == list(range(before + 1, head + 1))
