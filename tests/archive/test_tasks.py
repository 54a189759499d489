"""Beat's partition and archive jobs visit only the tenants that have work."""

from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.archive.tasks import ARCHIVE, MAKE, make_tenant_partitions
from apps.core.db import connection
from apps.core.partitions import (
    AUDIT_TRAIL,
    EVENT_LOG,
    HL7_MESSAGES,
    HL7_OUTBOUND,
    add_months,
    instant,
    partitions,
)
from apps.core.tenancy import tenants_with_work
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.clock import ist

pytestmark = pytest.mark.usefixtures("monday_morning")


def test_a_tenant_whose_log_grew_gets_its_months_ahead_and_its_archive_a_due_time(
    tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    now = timezone.now()
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    assert tenant.schema_name in tenants_with_work(MAKE, now)

    make_tenant_partitions()

    with connection.cursor() as cursor:
        for log in (EVENT_LOG, AUDIT_TRAIL, HL7_MESSAGES, HL7_OUTBOUND):
            names = {p.name for p in partitions(cursor, log)}
            assert {log.partition_name(m.date()) for m in _months(now)} <= names
        oldest = next(p for p in partitions(cursor, EVENT_LOG) if p.upper is not None)
        messages = min(
            p.upper
            for store in (HL7_MESSAGES, HL7_OUTBOUND)
            for p in partitions(cursor, store)
            if p.upper is not None
        )
    assert tenant.schema_name not in tenants_with_work(MAKE, now)
    assert oldest.upper is not None
    # Due when the first of them passes its retention: the event log's 36 months, the HL7
    # stores' (inbound and outbound) 90 days.
    due = min(
        instant(add_months(oldest.upper.date(), 36)),
        messages + timedelta(days=settings.MYMEDIC_HL7_RETENTION_DAYS),
    )
    assert due == messages + timedelta(days=90)
    assert tenant.schema_name not in tenants_with_work(ARCHIVE, due - timedelta(seconds=1))
    assert tenant.schema_name in tenants_with_work(ARCHIVE, due)


def _months(now: datetime) -> list[datetime]:
    first = now.date().replace(day=1)
    return [instant(add_months(first, n)) for n in range(3)]
