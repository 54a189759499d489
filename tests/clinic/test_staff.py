from typing import Any

import pytest

from apps.clinic.models import Branch, Role, User
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory, UserFactory
from tests.conftest import HostClient, client_for


def new_staff(branch: Branch, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Priya Nair",
        "email": "priya@acme.example.com",
        "password": "front-desk-rota-77",
        "role": "receptionist",
        "branches": [branch.pk],
        **overrides,
    }


def test_owner_adds_a_receptionist_who_can_then_sign_in(
    owner: User, tenant: Tenant, main_branch: Branch
) -> None:
    response = client_for(owner, tenant).post(
        "/api/v1/staff/", new_staff(main_branch), format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "receptionist"
    assert body["branches"] == [main_branch.pk]
    assert "password" not in body
    token = HostClient(f"{tenant.slug}.localhost").post(
        "/api/v1/auth/token/",
        {"username": "priya@acme.example.com", "password": "front-desk-rota-77"},
        format="json",
    )
    assert token.status_code == 200
    assert token.json()["role"] == "receptionist"


def test_a_manager_may_add_staff_and_list_them(tenant: Tenant, main_branch: Branch) -> None:
    manager = UserFactory(role=Role.MANAGER)
    client = client_for(manager, tenant)

    created = client.post("/api/v1/staff/", new_staff(main_branch, role="doctor"), format="json")
    listed = client.get("/api/v1/staff/")

    assert created.status_code == 201
    assert listed.status_code == 200
    emails = {row["email"] for row in listed.json()["results"]}
    assert {"priya@acme.example.com", manager.email, "owner@acme.example.com"} <= emails


@pytest.mark.parametrize("role", [Role.BRANCH_MANAGER, Role.RECEPTIONIST, Role.DOCTOR])
def test_other_roles_may_not_list_or_add_staff(
    tenant: Tenant, main_branch: Branch, role: str
) -> None:
    client = client_for(UserFactory(role=role, branches=[main_branch]), tenant)

    assert client.get("/api/v1/staff/").status_code == 403
    assert client.post("/api/v1/staff/", new_staff(main_branch), format="json").status_code == 403
    assert not User.objects.filter(email="priya@acme.example.com").exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password": "short"}, "password"),
        ({"password": "password1234"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "OWNER@acme.example.com"}, "email"),
        ({"role": "owner"}, "role"),
        ({"role": "surgeon"}, "role"),
        ({"branches": []}, "branches"),
        ({"branches": [999999]}, "branches"),
        ({"branches": "main"}, "branches"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_staff_input_is_refused_by_field(
    owner: User, tenant: Tenant, main_branch: Branch, overrides: dict[str, Any], field: str
) -> None:
    before = User.objects.count()

    response = client_for(owner, tenant).post(
        "/api/v1/staff/", new_staff(main_branch, **overrides), format="json"
    )

    assert response.status_code == 400
    assert field in response.json()
    assert User.objects.count() == before


def test_a_manager_needs_no_branch(owner: User, tenant: Tenant, main_branch: Branch) -> None:
    response = client_for(owner, tenant).post(
        "/api/v1/staff/", new_staff(main_branch, role="manager", branches=[]), format="json"
    )

    assert response.status_code == 201
    assert User.objects.get(email="priya@acme.example.com").sees_all_branches


def test_staff_of_another_tenant_are_not_listed(owner: User, tenant: Tenant) -> None:
    emails = {
        row["email"] for row in client_for(owner, tenant).get("/api/v1/staff/").json()["results"]
    }

    assert "owner@globex.example.com" not in emails


def test_staff_may_be_given_several_branches(
    owner: User, tenant: Tenant, main_branch: Branch
) -> None:
    second = BranchFactory()

    response = client_for(owner, tenant).post(
        "/api/v1/staff/",
        new_staff(main_branch, role="branch_manager", branches=[main_branch.pk, second.pk]),
        format="json",
    )

    assert response.status_code == 201
    assert sorted(response.json()["branches"]) == sorted([main_branch.pk, second.pk])
