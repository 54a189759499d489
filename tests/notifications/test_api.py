"""The dead-letter list and retry over the API: owners and managers only, tenant-scoped."""

from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.clinic.models import Branch, Role, User
from apps.notifications.dispatch import dispatch_due
from apps.notifications.models import Delivery
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.clinic.factories import UserFactory
from tests.clock import ist
from tests.conftest import client_for
from tests.notifications.backends import FlakyBackend
from tests.notifications.factories import NotificationFactory


@pytest.fixture
def dead(doctor: Doctor, patient: Patient, flaky: type[FlakyBackend]) -> list[Delivery]:
    flaky.failures, flaky.permanent = 99, True
    for hour in (10, 11, 12):
        NotificationFactory(doctor=doctor, start=ist(5, hour))
    dispatch_due()
    flaky.failures = 0
    return list(Delivery.objects.filter(status="dead").order_by("id"))


def test_owners_page_through_the_dead_letter_list(
    dead: list[Delivery], owner: User, tenant: Tenant
) -> None:
    client = client_for(owner, tenant)

    first = client.get("/api/v1/notifications/dead-letter/?page_size=2").json()
    second = client.get(first["next"].split("localhost", 1)[1]).json()
    confirmations = client.get("/api/v1/notifications/dead-letter/?kind=confirmation").json()

    assert first["count"] == 3 and len(first["results"]) == 2
    assert len(second["results"]) == 1
    row = first["results"][0]
    assert row["status"] == "dead" and row["last_error"].startswith("refused")
    assert set(row) >= {"id", "key", "kind", "channel", "attempts", "patient_id"}
    assert "Test Person" not in str(first)  # ids only: no PHI in the list
    assert confirmations["count"] == 3


def test_a_manager_retries_a_dead_letter_and_it_is_sent(
    dead: list[Delivery], tenant: Tenant, main_branch: Branch
) -> None:
    manager = client_for(UserFactory(role=Role.MANAGER), tenant)

    retried = manager.post(f"/api/v1/notifications/{dead[0].pk}/retry/")
    again = manager.post(f"/api/v1/notifications/{dead[0].pk}/retry/")
    dispatch_due()

    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    assert again.status_code == 409
    assert Delivery.objects.get(pk=dead[0].pk).status == "sent"
    remaining = manager.get("/api/v1/notifications/dead-letter/").json()
    assert remaining["count"] == 2


@pytest.mark.parametrize("role", [Role.BRANCH_MANAGER, Role.RECEPTIONIST, Role.DOCTOR])
def test_other_roles_may_not_see_or_retry_dead_letters(
    dead: list[Delivery], tenant: Tenant, main_branch: Branch, role: str
) -> None:
    client = client_for(UserFactory(role=role, branches=[main_branch]), tenant)

    assert client.get("/api/v1/notifications/dead-letter/").status_code == 403
    assert client.post(f"/api/v1/notifications/{dead[0].pk}/retry/").status_code == 403


def test_another_tenant_never_sees_or_retries_these_dead_letters(
    dead: list[Delivery], tenant: Tenant, other_tenant: Tenant
) -> None:
    with schema_context(other_tenant.schema_name):
        theirs = client_for(User.objects.get(role=Role.OWNER), other_tenant)
    foreign_token: Any = theirs._credentials["HTTP_AUTHORIZATION"]  # noqa: SLF001

    assert theirs.get("/api/v1/notifications/dead-letter/").json()["count"] == 0
    assert theirs.post(f"/api/v1/notifications/{dead[0].pk}/retry/").status_code == 404
    on_our_host = client_for(User.objects.get(role=Role.OWNER), tenant)
    on_our_host.credentials(HTTP_AUTHORIZATION=foreign_token)
    assert on_our_host.get("/api/v1/notifications/dead-letter/").status_code == 401
    assert Delivery.objects.get(pk=dead[0].pk).status == "dead"
