"""Appointment events become outbound SIU in the same transaction that appends them (an
outbox): a booking that commits has its messages, one that rolls back has none, and they
are made in position order because appends are serialized per tenant."""

from functools import partial
from typing import Any

from django.dispatch import receiver

from apps.core.db import connection
from apps.core.tenancy import note_due
from apps.core.wakeups import after_commit
from apps.eventstore.models import Event, event_appended
from apps.integration.outbound import SEND_JOB, SIU_BY_EVENT, plan


@receiver(event_appended)
def appointment_to_siu(sender: Any, event: Event, **kwargs: Any) -> None:
    if event.type not in SIU_BY_EVENT:
        return
    if plan(event.type, event.position, event.data):
        note_due(SEND_JOB, event.occurred_at)
        # The commit may come after the schema was switched back: name it here.
        after_commit(partial(_request_send, connection.schema_name), what="hl7 send")


def _request_send(schema: str) -> None:
    from apps.integration.tasks import send_tenant_outbound

    send_tenant_outbound.apply_async(headers={"_schema_name": schema})
