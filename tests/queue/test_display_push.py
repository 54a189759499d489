"""Which branches a projection run pushes the waiting-room display's state to, heard on the
Redis channel the web processes listen on: only those with a live display link (a screen
can be open there); the board's own push goes out either way."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection

from apps.eventstore.live import branch_channel
from apps.eventstore.projections import catch_up
from apps.queue import commands as queue
from apps.queue.live import STATE_EVENT, display_channel
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from tests.clock import ist


@pytest.fixture
def heard() -> Iterator[Any]:
    """A subscription to django-eventstream's Redis channel."""
    client = redis.Redis(**settings.EVENTSTREAM_REDIS)
    subscription = client.pubsub()
    subscription.subscribe("events_channel")
    assert subscription.get_message(timeout=5)["type"] == "subscribe"
    try:
        yield subscription
    finally:
        subscription.close()
        client.close()


def pushes(subscription: Any, seconds: float = 0.5) -> set[tuple[str, str]]:
    """(channel, event type) of what was published until `seconds` pass without a message."""
    found = set()
    while message := subscription.get_message(timeout=seconds):
        if message["type"] == "message":
            sent = json.loads(message["data"])
            found.add((sent["channel"], sent["event_type"]))
    return found


def test_a_run_pushes_the_display_only_to_a_branch_with_a_live_link(
    doctor: Doctor, patient: Patient, heard: Any
) -> None:
    schema, branch = connection.schema_name, doctor.branch
    display = (display_channel(schema, branch.pk), STATE_EVENT)

    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    catch_up()
    no_link = pushes(heard)

    link, _ = queue.display_link_create(actor=None, branch=branch, name="Hall", language="en")
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    catch_up()
    live_link = pushes(heard)

    queue.display_link_revoke(actor=None, link=link)
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 11))
    catch_up()
    revoked = pushes(heard)

    # The run announced its change each time: the board's channel heard it.
    assert all(
        any(channel == branch_channel(schema, branch.pk) for channel, _ in heard_then)
        for heard_then in (no_link, live_link, revoked)
    )
    assert display not in no_link
    assert display in live_link
    assert display not in revoked
