"""Patient app fixtures: an SMS outbox of the test's own, patients signed in with their
tokens, and a second tenant's patient for isolation tests."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django_tenants.utils import schema_context

from apps.scheduling.models import Patient
from apps.tenants.models import Tenant
from tests.conftest import HostClient, with_token
from tests.patientapp.factories import PatientTokenFactory
from tests.scheduling.factories import PatientFactory


@pytest.fixture(autouse=True)
def tasks_run_in_process(celery_in_process: None) -> None:
    """Sign-in codes leave from a Celery task: here it runs in the test's own process."""


def patient_client(patient: Patient, tenant: Tenant) -> HostClient:
    """A client on `tenant`'s host with a fresh token of `patient` (made in that schema)."""
    with schema_context(tenant.schema_name):
        key = PatientTokenFactory(patient=patient).key
    return with_token(f"{tenant.slug}.localhost", key)


@pytest.fixture
def me(patient: Patient, tenant: Tenant) -> HostClient:
    return patient_client(patient, tenant)


@pytest.fixture
def someone_else(tenant: Tenant) -> Patient:
    return PatientFactory(name="Meera Iyer", phone="+919800000077")


@pytest.fixture
def outsider(other_tenant: Tenant, tenant: Tenant) -> Iterator[HostClient]:
    """A signed-in patient of the other tenant, who has no visits or invoices there."""
    with schema_context(other_tenant.schema_name):
        stranger = PatientFactory(name="Globex Patient", phone="+919811100022")
    yield patient_client(stranger, other_tenant)


SendCode = Callable[..., Any]


@pytest.fixture(autouse=True)
def on_monday_morning(monday_morning: time_machine.Coordinates) -> None:
    """Every test here runs on the suite's frozen Monday morning (`tests/conftest.py`)."""
