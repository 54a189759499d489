"""The messages PostgreSQL writes for the relay: the events API's fields, `occurred_at` as DRF
writes an instant in UTC, strings escaped as JSON, `data` as stored."""

import json

import pytest

from apps.core.db import connection
from apps.eventbus import relay
from apps.eventstore.locks import append_lock
from apps.tenants.models import Tenant

APPEND = """
INSERT INTO eventstore_event (stream, version, type, schema_version, data, metadata, occurred_at)
VALUES (%s, 1, %s, 1, %s, '{}', %s) RETURNING position
"""


@pytest.fixture
def appended(tenant: Tenant) -> list[int]:
    rows = [
        ("probe-7", "Probe", '{"ids": [1, 2], "amount": "500.00"}', "2027-01-05T03:30:00+00:00"),
        ("doctor-leave-3", 'Say "hi"', "{}", "2027-01-05T09:15:00.000250+05:30"),
    ]
    positions = []
    append_lock()
    with connection.cursor() as cursor:
        for row in rows:
            cursor.execute(APPEND, row)
            positions.append(cursor.fetchone()[0])
    return positions


def test_each_message_is_the_event_as_the_api_writes_it_with_its_subject_and_id(
    tenant: Tenant, appended: list[int]
) -> None:
    first, second = appended
    pending = relay.Pending(tenant.schema_name, tenant.slug, "in", relayed=first - 1, head=second)
    messages = relay.messages_after(pending, 10)

    assert [m.position for m in messages] == appended
    assert (
        messages[0].payload
        == (
            f'{{"position":{first},"type":"Probe","stream":"probe-7","version":1,'
            f'"occurred_at":"2027-01-05T03:30:00Z","data":{{"ids": [1, 2], "amount": "500.00"}},'
            f'"tenant":"{tenant.slug}"}}'
        ).encode()
    )
    assert json.loads(messages[1].payload) == {
        "position": second,
        "type": 'Say "hi"',
        "stream": "doctor-leave-3",
        "version": 1,
        "occurred_at": "2027-01-05T03:45:00.000250Z",
        "data": {},
        "tenant": tenant.slug,
    }
    assert [m.subject for m in messages] == [
        f"mymedic.events.in.{tenant.slug}.probe",
        f"mymedic.events.in.{tenant.slug}.doctor-leave",
    ]
    assert [m.message_id for m in messages] == [f"{tenant.slug}:{p}" for p in appended]
    assert {m.key for m in messages} == {tenant.slug}


def test_messages_start_after_the_position_given(tenant: Tenant, appended: list[int]) -> None:
    first, second = appended
    pending = relay.Pending(tenant.schema_name, tenant.slug, "in", relayed=0, head=second)
    assert [m.position for m in relay.messages_after(pending, 10, after=first)] == [second]
    assert [m.position for m in relay.messages_after(pending, 1, after=first - 1)] == [first]
