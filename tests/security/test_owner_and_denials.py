"""The owner's account is theirs alone; anonymous refusals are log lines, not chain entries;
/metrics answers only its token's bearer."""

import logging
from typing import Any

import pytest

from apps.audit.models import AuditEntry
from apps.clinic.commands import staff_change
from apps.clinic.models import Role, User
from apps.core.errors import Conflict
from apps.tenants.models import Tenant
from tests.clinic.factories import UserFactory
from tests.conftest import OWNER_PASSWORD, HostClient, client_for


@pytest.fixture
def manager(tenant: Tenant) -> User:
    return UserFactory(role=Role.MANAGER, is_staff=True)


def test_a_manager_cannot_deactivate_or_demote_the_owner(owner: User, manager: User) -> None:
    with pytest.raises(Conflict):
        staff_change(actor=manager, user=owner, is_active=False)
    with pytest.raises(Conflict):
        staff_change(actor=manager, user=owner, role=Role.RECEPTIONIST)

    owner.refresh_from_db()
    assert (owner.is_active, owner.role) == (True, Role.OWNER)


def test_a_manager_still_manages_other_staff(manager: User) -> None:
    desk = UserFactory(role=Role.MANAGER)

    changed = staff_change(actor=manager, user=desk, is_active=False, name="Gone Away")

    assert (changed.is_active, changed.name) == (False, "Gone Away")


def test_the_admin_refuses_deactivating_the_owner_next_to_the_field(
    api: HostClient, owner: User, manager: User
) -> None:
    admin = HostClient(api.defaults["HTTP_HOST"])
    admin.force_login(manager)

    page = admin.post(
        f"/admin/clinic/user/{owner.pk}/change/",
        {"name": owner.name, "branches": [], "is_active": ""},
    )

    assert page.status_code == 200
    assert page.context["adminform"].form.errors == {
        "is_active": ["Only the owner can deactivate the owner's account."]
    }
    owner.refresh_from_db()
    assert owner.is_active


def test_deactivating_a_member_in_the_admin_ends_their_tokens(
    api: HostClient, owner: User, tenant: Tenant
) -> None:
    member = UserFactory(role=Role.MANAGER, name="Member")
    member_api = client_for(member, tenant)
    admin = HostClient(api.defaults["HTTP_HOST"])
    admin.force_login(owner)

    page = admin.post(f"/admin/clinic/user/{member.pk}/change/", {"name": "Member", "branches": []})

    assert page.status_code == 302
    assert member_api.get("/api/v1/auth/me/").status_code == 401


def test_an_anonymous_refusal_is_a_rate_limited_log_line_not_an_audit_entry(
    tenant: Tenant, owner: User, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.MYMEDIC_DENIAL_LOG_PER_MINUTE = 3
    browser = HostClient(f"{tenant.slug}.localhost", enforce_csrf_checks=True)
    before = AuditEntry.objects.count()

    with caplog.at_level(logging.WARNING, logger="mymedic.security"):
        codes = [
            browser.post(
                "/login/",
                {"username": owner.email, "password": OWNER_PASSWORD},
                REMOTE_ADDR="203.0.113.44",
            ).status_code
            for _ in range(5)
        ]

    assert codes == [403] * 5
    assert AuditEntry.objects.count() == before
    lines = [r.getMessage() for r in caplog.records if r.name == "mymedic.security"]
    assert lines == ["anonymous request refused: POST /login/ from 203.0.113.44"] * 3


def test_a_signed_in_refusal_is_still_audited(tenant: Tenant, main_branch: Any) -> None:
    desk = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])

    assert client_for(desk, tenant).get("/api/v1/staff/").status_code == 403

    assert AuditEntry.objects.filter(action="permission.denied", actor_id=desk.pk).exists()


def test_metrics_without_a_configured_token_is_not_found_even_from_loopback(
    public_api: HostClient, settings: Any
) -> None:
    settings.MYMEDIC_METRICS_TOKEN = ""

    assert public_api.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_metrics_answers_only_the_bearer_of_its_token(
    public_api: HostClient, settings: Any
) -> None:
    settings.MYMEDIC_METRICS_TOKEN = "s3cret-metrics-token"

    anonymous = public_api.get("/metrics", REMOTE_ADDR="127.0.0.1")
    wrong = public_api.get("/metrics", HTTP_AUTHORIZATION="Bearer nope", REMOTE_ADDR="127.0.0.1")
    right = public_api.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")

    assert (anonymous.status_code, wrong.status_code, right.status_code) == (403, 403, 200)
    assert b"mymedic_projection_lag" in right.content
