"""Beat tasks: from the public schema, one dispatch per tenant with work, run in that tenant."""

import json

import redis
import time_machine
from django.conf import settings
from django_tenants.utils import schema_context

from apps.core.db import connection
from apps.eventstore.projections import catch_up
from apps.notifications.backends import FileBackend
from apps.notifications.tasks import dispatch_all_tenants, dispatch_tenant
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient, SlotHold
from apps.scheduling.tasks import expire_slot_holds, expire_tenant_holds
from apps.scheduling.waitlist import waitlist_join
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.notifications.conftest import sent_keys
from tests.scheduling.factories import PatientFactory


def queued_dispatches() -> list[str]:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    messages = [json.loads(raw) for raw in broker.lrange("notifications", 0, -1)]
    return [
        m["headers"]["_schema_name"] for m in messages if "dispatch_tenant" in m["headers"]["task"]
    ]


def purge() -> None:
    """Empties the queue these tasks are routed to."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("notifications")


def test_beat_fans_out_a_dispatch_to_each_tenant_with_messages_due(
    tenant: Tenant, doctor: Doctor, patient: Patient, outbox: FileBackend
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    catch_up()
    purge()
    try:
        with schema_context("public"):
            fanned = dispatch_all_tenants()
        queued = queued_dispatches()
    finally:
        purge()
    dispatch_tenant()  # what the worker runs, in the schema the message names

    assert fanned == [tenant.schema_name]  # no other tenant has a message due
    assert queued == [tenant.schema_name]
    assert sent_keys(outbox) == [f"appointment-{visit.pk}:confirmation:v1"]


def test_beat_expires_holds_in_every_tenant(
    tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    waitlist_join(actor=None, doctor=doctor, patient=PatientFactory(), day=ist(5, 10).date())
    commands.appointment_cancel(actor=None, appointment=visit, reason="unwell")
    with time_machine.travel(ist(4, 9), tick=False):
        with schema_context("public"):
            fanned = expire_slot_holds()
        expired = expire_tenant_holds()  # what the worker runs, in the tenant's schema

    assert connection.schema_name == tenant.schema_name
    assert fanned == [tenant.schema_name]  # no other tenant has a hold past its expiry
    assert expired == 1
    assert SlotHold.objects.get().status == "expired"
