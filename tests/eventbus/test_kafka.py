"""The relay's second backend, Kafka, against librdkafka's built-in mock cluster (three
brokers in the producer's process, on loopback): an idempotent producer keyed by tenant, so a
tenant's events sit in one partition in position order, each with its message id."""

import json
from typing import Any

import pytest
from confluent_kafka import Consumer
from django_tenants.utils import schema_context

from apps.eventbus import relay
from apps.eventbus.publishers import BusUnavailable, KafkaPublisher, publisher_for
from apps.eventstore.models import Event
from apps.tenants.models import Tenant
from tests.eventbus.test_relay import book_some
from tests.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def consume_all(brokers: str, topic: str, count: int) -> list[Any]:
    consumer = Consumer(
        {"bootstrap.servers": brokers, "group.id": "test", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    received: list[Any] = []
    try:
        for _ in range(200):
            if len(received) >= count:
                break
            record = consumer.poll(0.5)
            if record is not None and record.error() is None:
                received.append(record)
    finally:
        consumer.close()
    return received


def test_kafka_keeps_each_tenants_events_in_one_partition_in_order_with_their_ids(
    committed_tenant: Tenant, django_db_blocker: Any
) -> None:
    publisher = publisher_for("kafka://mock:9092?test.mock.num.brokers=3")
    assert isinstance(publisher, KafkaPublisher)
    with django_db_blocker.unblock():
        with schema_context(committed_tenant.schema_name):
            book_some(3)
            expected = list(Event.objects.order_by("position").values_list("position", flat=True))
        total = relay.relay_pending(publisher)
        assert relay.relayed_position(committed_tenant.schema_name) == expected[-1]
    metadata = publisher._producer.list_topics(timeout=10)
    brokers = ",".join(f"{b.host}:{b.port}" for b in metadata.brokers.values())
    records = consume_all(brokers, "mymedic.events.in", total)
    publisher.close()

    slug = committed_tenant.slug
    ours = [r for r in records if r.key() == slug.encode()]
    assert len(metadata.brokers) == 3
    assert len(records) == total
    assert len({r.partition() for r in ours}) == 1
    assert [json.loads(r.value())["position"] for r in ours] == expected
    assert [dict(r.headers())["message-id"].decode() for r in ours] == [
        f"{slug}:{p}" for p in expected
    ]
    assert {json.loads(r.value())["tenant"] for r in ours} == {slug}


def test_an_unreachable_kafka_moves_no_position(
    committed_tenant: Tenant, django_db_blocker: Any
) -> None:
    publisher = KafkaPublisher({"bootstrap.servers": f"127.0.0.1:{free_port()}"}, timeout=2)
    try:
        with django_db_blocker.unblock():
            with schema_context(committed_tenant.schema_name):
                book_some(1)
            before = relay.relayed_position(committed_tenant.schema_name)
            with pytest.raises(BusUnavailable) as failure:
                relay.relay_pending(publisher)
            after = relay.relayed_position(committed_tenant.schema_name)
    finally:
        publisher.close()
    assert failure.value.acked == 0
    assert after == before
