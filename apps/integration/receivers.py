"""Appointment events become outbound SIU in the same transaction that appends them (an
outbox): a booking that commits has its messages, one that rolls back has none, and they
are made in position order because appends are serialized per tenant."""

from typing import Any

from django.dispatch import receiver

from apps.core.tenancy import note_due
from apps.eventstore.models import Event, event_appended
from apps.integration.outbound import SEND_JOB, SIU_BY_EVENT, plan, wake_sender


@receiver(event_appended)
def appointment_to_siu(sender: Any, event: Event, **kwargs: Any) -> None:
    if event.type not in SIU_BY_EVENT:
        return
    if plan(event.type, event.position, event.data):
        note_due(SEND_JOB, event.occurred_at)
        wake_sender()
