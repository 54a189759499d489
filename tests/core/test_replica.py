"""Reading from the standby without one configured: the block reads from the primary, and a
write inside it is refused whether or not a standby exists. The standby itself is in
tests/faults/test_replica_reads.py."""

import pytest
from django.db import DEFAULT_DB_ALIAS, router

from apps.core.replica import (
    REPLICA,
    WriteWhileReadingReplica,
    read_connection,
    reading_from_replica,
    replica_configured,
)
from apps.eventbus.models import WebhookCursor
from apps.eventstore.models import Event
from apps.eventstore.store import head_position
from apps.tenants.models import Tenant


def test_without_a_standby_the_block_reads_from_the_primary(tenant: Tenant) -> None:
    WebhookCursor.objects.create(channel="seen-on-primary", position=3)
    assert not replica_configured()
    with reading_from_replica() as alias:
        channels = list(WebhookCursor.objects.values_list("channel", flat=True))
        raw = read_connection()
        head = head_position()
    assert alias == DEFAULT_DB_ALIAS
    assert raw.alias == DEFAULT_DB_ALIAS
    assert channels == ["seen-on-primary"]
    assert head == Event.objects.order_by("-position").values_list("position", flat=True)[0]


def test_a_create_inside_replica_reading_is_refused_and_nothing_is_written(
    tenant: Tenant,
) -> None:
    with pytest.raises(WriteWhileReadingReplica, match="WebhookCursor"), reading_from_replica():
        WebhookCursor.objects.create(channel="never-written")
    assert not WebhookCursor.objects.filter(channel="never-written").exists()


def test_an_update_or_a_locking_read_inside_replica_reading_is_refused(tenant: Tenant) -> None:
    WebhookCursor.objects.create(channel="kept", position=1)
    with reading_from_replica():
        with pytest.raises(WriteWhileReadingReplica):
            WebhookCursor.objects.filter(channel="kept").update(position=2)
        with pytest.raises(WriteWhileReadingReplica):
            list(WebhookCursor.objects.select_for_update().filter(channel="kept"))
    assert WebhookCursor.objects.get(channel="kept").position == 1


def test_writes_after_the_block_go_to_the_primary_again(tenant: Tenant) -> None:
    with reading_from_replica():
        pass
    WebhookCursor.objects.create(channel="after-the-block")
    assert WebhookCursor.objects.filter(channel="after-the-block").exists()


def test_a_row_read_from_the_standby_is_saved_on_the_primary() -> None:
    row = WebhookCursor(channel="read-there")
    row._state.db = REPLICA
    assert router.db_for_write(WebhookCursor, instance=row) == DEFAULT_DB_ALIAS


def test_the_standby_is_never_migrated() -> None:
    assert router.allow_migrate(REPLICA, "scheduling", model_name="appointment") is False
    assert router.allow_migrate(REPLICA, "tenants", model_name="tenant") is False
