"""Per-tenant work: each tenant behind its own error boundary; beat finds tenants with work."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.billing import commands as billing
from apps.clinic.models import Branch
from apps.core.db import connection
from apps.core.tenancy import (
    RUNNING_KEY,
    TenantsFailed,
    _forget_running_slots,
    first_fire,
    for_each_tenant,
    note_due,
    tenants_with_work,
)
from apps.eventstore.projections import catch_up
from apps.eventstore.tasks import sweep_tenant
from apps.reconciliation.models import DailyClose
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.scheduling.factories import DoctorFactory, PatientFactory


def test_a_tenant_that_raises_is_named_and_every_other_tenant_still_runs(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    def work(each: Any) -> str:
        if each.schema_name == tenant.schema_name:
            raise ValueError("a broken row")
        return connection.schema_name

    with schema_context("public"), pytest.raises(TenantsFailed) as failure:
        for_each_tenant(work, [tenant.slug, other_tenant.slug])

    assert failure.value.failed == {tenant.schema_name: "ValueError"}
    assert failure.value.results == {other_tenant.schema_name: other_tenant.schema_name}
    assert "1 tenant(s) failed: acme (ValueError)" in str(failure.value)


def test_a_tenants_database_error_inside_a_transaction_spares_the_next_tenant(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    def work(each: Any) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / %s", [0 if each.schema_name == tenant.schema_name else 1])
            return int(cursor.fetchone()[0])

    with schema_context("public"), pytest.raises(TenantsFailed) as failure:
        for_each_tenant(work, [tenant.slug, other_tenant.slug])

    assert failure.value.failed == {tenant.schema_name: "DataError"}
    assert failure.value.results == {other_tenant.schema_name: 1}


def test_reconcile_goes_on_past_a_failing_tenant_and_fails_at_the_end(
    tenant: Tenant, other_tenant: Tenant, monkeypatch: Any
) -> None:
    with schema_context(other_tenant.schema_name):  # after acme in the loop
        doctor = DoctorFactory(branch=Branch.objects.get())
        visit = commands.appointment_book(
            actor=None, doctor=doctor, patient=PatientFactory(), start=ist(4, 10)
        )
        billing.payment_take(
            actor=None, appointment=visit, kind="deposit", amount=Decimal("250"), method="cash"
        )
    from apps.reconciliation.management.commands import reconcile

    real_close_days = reconcile.close_days

    def close_days(start: Any, end: Any) -> Any:
        if connection.schema_name == tenant.schema_name:
            raise RuntimeError("the close broke")
        return real_close_days(start, end)

    monkeypatch.setattr(reconcile, "close_days", close_days)
    out = StringIO()
    with pytest.raises(TenantsFailed) as failure:
        call_command(
            "reconcile", "--date", "2027-01-04", "--tenant", other_tenant.slug,
            "--tenant", tenant.slug, stdout=out, stderr=StringIO(),
        )  # fmt: skip

    assert failure.value.failed == {tenant.schema_name: "RuntimeError"}
    assert "computed for 1 tenant(s)" in out.getvalue()
    with schema_context(other_tenant.schema_name):
        assert DailyClose.objects.filter(date="2027-01-04").exists()
    assert not DailyClose.objects.exists()  # acme's close never committed


def test_beat_finds_a_tenant_when_its_log_grows_and_forgets_it_once_covered(
    tenant: Tenant, doctor: Doctor, patient: Patient
) -> None:
    now = timezone.now()
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 10))
    assert tenant.schema_name in tenants_with_work("sweep-projections", now)

    catch_up()
    assert sweep_tenant() is True  # caught up: the head is noted as covered
    assert tenant.schema_name not in tenants_with_work("sweep-projections", now)

    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 11))
    assert tenant.schema_name in tenants_with_work("sweep-projections", now)
    assert sweep_tenant() is False  # behind: a run is asked for and the tenant stays listed
    assert tenant.schema_name in tenants_with_work("sweep-projections", now)


def test_a_due_time_brings_a_tenant_back_only_when_it_falls_due(tenant: Tenant) -> None:
    now = timezone.now()
    note_due("expire-slot-holds", now + timedelta(minutes=5))
    note_due("expire-slot-holds", now + timedelta(minutes=9))  # a later time changes nothing

    def listed(minutes: int) -> bool:
        later = now + timedelta(minutes=minutes)
        return tenant.schema_name in tenants_with_work("expire-slot-holds", later)

    assert (listed(0), listed(4), listed(5)) == (False, False, True)


def test_a_periodic_job_fires_once_per_period_however_many_beats_ask(db: None) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert first_fire("dispatch-notifications") is True
        assert first_fire("dispatch-notifications") is False  # a second beat, same period
    with time_machine.travel(start + timedelta(seconds=50), tick=False):
        assert first_fire("dispatch-notifications") is False
    with time_machine.travel(start + timedelta(seconds=55), tick=False):
        assert first_fire("dispatch-notifications") is True  # the next period (60 s, 10% early)
        assert first_fire("expire-slot-holds") is True  # each job has its own period


def test_a_starting_worker_forgets_the_running_slots_a_killed_one_left_under_its_name(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    """A worker killed with a tenant job in hand leaves that tenant's slot behind; its
    successor (same name) would otherwise put off every task of the tenant until the slot's
    hard time limit ran out."""
    mine, other_workers = f"{RUNNING_KEY}:projections@here", f"{RUNNING_KEY}:jobs@here"
    for schema in (tenant.schema_name, other_tenant.schema_name):
        with schema_context(schema):
            assert cache.add(mine, 1, timeout=60)
            assert cache.add(other_workers, 1, timeout=60)

    _forget_running_slots(sender=SimpleNamespace(hostname="projections@here"))

    for schema in (tenant.schema_name, other_tenant.schema_name):
        with schema_context(schema):
            assert cache.get(mine) is None
            assert cache.get(other_workers) == 1
