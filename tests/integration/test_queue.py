"""The error queue: automatic retries with backoff, the dead letter after the channel's cap
(with its alert: a log line and the /metrics gauge), and messages a dead listener left."""

import logging
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from apps.core.tenancy import tenants_with_work
from apps.integration.commands import (
    RETRY_JOB,
    channel_add,
    message_store,
    next_retry,
    retry_due,
)
from apps.integration.models import Channel, Message
from apps.integration.parsing import parse
from apps.tenants.models import Tenant
from tests.conftest import HostClient
from tests.integration.traffic import adt, receive


@pytest.fixture
def channel(tenant: Tenant) -> Channel:
    return channel_add(
        actor=None, name="City", sending_facility="CITY", direction="inbound", max_retries=2
    )


def test_a_failing_message_is_retried_with_backoff_then_dead_lettered_with_an_alert(
    tenant: Tenant, channel: Channel, caplog: pytest.LogCaptureFixture
) -> None:
    message = receive(channel, adt("A08", tenant=tenant.slug, facility="CITY", identifier="NONE"))
    assert (message.status, message.attempts) == (Message.Status.ERROR, 1)
    first_wait = message.next_attempt_at - timezone.now()
    assert timedelta(seconds=29) < first_wait <= timedelta(seconds=30)
    assert tenant.schema_name in tenants_with_work(RETRY_JOB, message.next_attempt_at)
    assert tenant.schema_name not in tenants_with_work(RETRY_JOB, timezone.now())
    assert retry_due() == 0  # not due yet

    with time_machine.travel(message.next_attempt_at + timedelta(seconds=1), tick=False):
        assert retry_due() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Message.Status.ERROR, 2)
    assert message.next_attempt_at == next_retry()

    with (
        time_machine.travel(message.next_attempt_at + timedelta(seconds=1), tick=False),
        caplog.at_level(logging.ERROR, logger="mymedic.integration"),
    ):
        retry_due()
    message.refresh_from_db()
    assert (message.status, message.attempts, message.next_attempt_at) == (
        Message.Status.DEAD,
        3,
        None,
    )
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        f"hl7 message dead-lettered schema={tenant.schema_name} channel={channel.pk}"
        f" message={message.pk} attempts=3"
    ]
    assert next_retry() is None


def test_the_queue_is_a_gauge_on_metrics(
    tenant: Tenant, channel: Channel, settings: Any, public_api: HostClient
) -> None:
    settings.MYMEDIC_METRICS_TOKEN = "s3cret"
    receive(channel, adt("A08", tenant=tenant.slug, facility="CITY", identifier="NONE"))
    body = public_api.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").content.decode()
    assert f'mymedic_hl7_queue{{tenant="{tenant.slug}",status="error"}} 1' in body
    assert f'mymedic_hl7_queue{{tenant="{tenant.slug}",status="dead"}} 0' in body


def test_a_message_a_dead_listener_left_unapplied_is_applied_by_the_retry_job(
    tenant: Tenant, channel: Channel
) -> None:
    text = adt("A04", tenant=tenant.slug, facility="CITY", identifier="M1", phone="+919800011122")
    _, header = parse(text)
    message, _ = message_store(channel=channel, header=header, raw=text)
    assert retry_due() == 0  # a listener may still be applying it
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        assert tenant.schema_name in tenants_with_work(RETRY_JOB, timezone.now())
        assert retry_due() == 1
    message.refresh_from_db()
    assert message.status == Message.Status.APPLIED and message.patient is not None


def test_the_retention_purge_keeps_the_queue_and_what_is_recent(
    tenant: Tenant, channel: Channel
) -> None:
    old_applied = receive(
        channel, adt("A04", tenant=tenant.slug, facility="CITY", identifier="P1",
                     phone="+919800011123")
    )  # fmt: skip
    old_failed = receive(channel, adt("A08", tenant=tenant.slug, facility="CITY", identifier="X"))
    with time_machine.travel(timezone.now() + timedelta(days=91), tick=False):
        recent = receive(
            channel, adt("A08", tenant=tenant.slug, facility="CITY", identifier="P1",
                         phone="+919800011124")
        )  # fmt: skip
        output = StringIO()
        call_command("hl7_purge", "--tenant", tenant.slug, stdout=output)
    assert output.getvalue() == f"{tenant.schema_name}: 1 messages purged\n"
    remaining = set(Message.objects.values_list("pk", flat=True))
    assert remaining == {old_failed.pk, recent.pk}
    assert old_applied.pk not in remaining
