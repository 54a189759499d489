"""A committed clinic with something in every place the app keeps data: patients, visits,
payments, its event log and audit trail, an export archive, audit anchors, a backup in the
cell's backup folder, a sign-in code in the outbox, cached reads in Redis, facts in the
warehouse, a storage measurement and a statement."""

import io
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context

from apps.audit import anchors
from apps.clinic.models import Branch, User
from apps.core import keys, keystore
from apps.core.models import TenantKey
from apps.exports.commands import export_request
from apps.lifecycle.models import TenantClosure
from apps.lifecycle.storage import storage_measure
from apps.notifications.dispatch import dispatch_due
from apps.patientapp.auth import send_code
from apps.plans.commands import statement_issue, subscription_change_status
from apps.reconciliation.export import export as warehouse_export
from apps.scheduling import commands
from apps.tenants.models import Tenant
from tests.conftest import HostClient, client_for
from tests.faults import clinic_day

PASSPHRASE = "a long export passphrase 42"
# A financial year no other test issues statements in (their numbers count per year, and
# these are committed).
STATEMENT_MONTH = date(2019, 5, 1)


@dataclass
class Clinic:
    tenant: Tenant
    slug: str
    schema: str
    patient_name: str
    phone: str
    tenant_key: bytes
    wrapped_key: bytes
    secret: bytes
    statement: str

    @property
    def needles(self) -> list[str | bytes]:
        return [
            self.schema, self.slug, self.patient_name, self.phone,
            self.tenant_key, self.wrapped_key, self.secret,
        ]  # fmt: skip


def remove(slug: str) -> None:
    connection.set_schema_to_public()
    for tenant in Tenant.objects.filter(slug=slug):
        tenant.delete(force_drop=True)


def make_clinic(slug: str) -> Clinic:
    from apps.tenants.commands import tenant_onboard

    digits = "".join(secrets.choice("0123456789") for _ in range(8))
    patient_name, phone = f"Zeynep Quorra {uuid.uuid4().hex[:6]}", f"+9198{digits}"
    tenant = tenant_onboard(
        verified=True, clinic_name=f"{slug.title()} Clinic", slug=slug, kind="clinic",
        owner_name="Closing Owner", owner_email=f"owner@{slug}.example.com",
        owner_password="correct-horse-battery-9",
    ).tenant  # fmt: skip
    subscription_change_status(actor="ops@example.com", tenant=tenant, to="active")
    with schema_context(tenant.schema_name):
        doctor = commands.doctor_add(
            actor=None, branch=Branch.objects.get(), name="Dr. Asha Rao", specialty="GP",
            slot_minutes=30, consultation_fee=Decimal("500.00"), weekly_hours=clinic_day.HOURS,
        )  # fmt: skip
        commands.patient_register(actor=None, name=patient_name, phone=phone)
        for number in range(3):
            clinic_day.visit(number)
        dispatch_due()  # the three booking confirmations, to the patient by name
        owner = User.objects.get(role="owner")
        export_request(actor=owner, passphrase=PASSPHRASE)
        anchors.publish()
        send_code(phone, "482913", 1)
        warehouse_export()
        version, tenant_key = keys.active_tenant_key()
        wrapped = bytes(TenantKey.objects.get(pk=version).wrapped)
    day = clinic_day.FIRST_DAY.date().isoformat()
    answer = client_for(owner, tenant).get(f"/api/v1/doctors/{doctor.pk}/day/?date={day}")
    assert answer.status_code == 200
    call_command("tenant_backup", slug, stdout=io.StringIO())  # into the cell's backup folder
    storage_measure(actor=None, tenant=tenant)
    statement = statement_issue(actor="ops@example.com", tenant=tenant, month=STATEMENT_MONTH)
    secret = keystore.secret(tenant.schema_name)
    assert secret is not None
    return Clinic(
        tenant, slug, tenant.schema_name, patient_name, phone, tenant_key, wrapped, secret,
        statement.number,
    )  # fmt: skip


@pytest.fixture
def clinic(
    django_db_setup: Any, django_db_blocker: Any, celery_in_process: None, settings: Any
) -> Iterator[Clinic]:
    slug = f"cl-{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        try:
            yield make_clinic(slug)
        finally:
            remove(slug)
            TenantClosure.objects.filter(slug=slug).delete()


def operator_client(email: str) -> HostClient:
    """The operator admin's client on the public host, signed in as a new superuser."""
    connection.set_schema_to_public()
    operator = User.objects.create_superuser(email, "an-operator-pass-1")
    client = HostClient("localhost")
    client.force_login(operator)
    return client


@pytest.fixture
def admin_client_public(tenant: Tenant) -> HostClient:
    """In the test's rolled-back transaction."""
    return operator_client("ops@mymedic.example.com")


@pytest.fixture
def committed_operator(django_db_blocker: Any) -> Iterator[HostClient]:
    email = f"ops-{uuid.uuid4().hex[:6]}@mymedic.example.com"
    with django_db_blocker.unblock():
        try:
            yield operator_client(email)
        finally:
            connection.set_schema_to_public()
            # Not `.delete()`: the collector would look for tokens, a table of tenant schemas.
            User.objects.filter(email=email)._raw_delete(connection.alias)
