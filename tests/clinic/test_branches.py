from django.db import connection
from django_tenants.utils import schema_context

from apps.clinic.models import Branch, Role, User
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory, UserFactory
from tests.conftest import HostClient, client_for


def test_owner_lists_every_branch_paginated(owner: User, tenant: Tenant) -> None:
    BranchFactory.create_batch(3)

    response = client_for(owner, tenant).get("/api/v1/branches/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == Branch.objects.count() == 4
    assert set(body["results"][0]) == {"id", "name", "city", "timezone"}


def test_pages_follow_the_page_size_asked_for(owner: User, tenant: Tenant) -> None:
    BranchFactory.create_batch(4)

    body = client_for(owner, tenant).get("/api/v1/branches/?page_size=2").json()

    assert len(body["results"]) == 2
    assert body["next"] is not None


def test_a_receptionist_sees_only_their_branches(tenant: Tenant, main_branch: Branch) -> None:
    BranchFactory(name="Elsewhere")
    desk = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])

    body = client_for(desk, tenant).get("/api/v1/branches/").json()

    assert [b["name"] for b in body["results"]] == ["Main branch"]


def test_a_branch_outside_the_callers_reach_is_a_404(tenant: Tenant, main_branch: Branch) -> None:
    elsewhere = BranchFactory(name="Elsewhere")
    desk = UserFactory(role=Role.BRANCH_MANAGER, branches=[main_branch])
    client = client_for(desk, tenant)

    assert client.get(f"/api/v1/branches/{main_branch.pk}/").status_code == 200
    assert client.get(f"/api/v1/branches/{elsewhere.pk}/").status_code == 404


def test_a_branch_of_another_tenant_is_a_404(
    owner: User, tenant: Tenant, other_tenant: Tenant
) -> None:
    with schema_context(other_tenant.schema_name):
        with connection.cursor() as cursor:  # an id that no acme branch has
            cursor.execute("SELECT setval(pg_get_serial_sequence('clinic_branch', 'id'), 987653)")
        foreign = BranchFactory(name="Globex only")
        foreign_owner = User.objects.get(role=Role.OWNER)

    assert (
        client_for(foreign_owner, other_tenant).get("/api/v1/branches/987654/").status_code == 200
    )
    assert client_for(owner, tenant).get(f"/api/v1/branches/{foreign.pk}/").status_code == 404


def test_owner_creates_a_branch_in_the_tenants_timezone(owner: User, tenant: Tenant) -> None:
    response = client_for(owner, tenant).post(
        "/api/v1/branches/", {"name": "Koregaon Park", "city": "Pune"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {
        "id": body["id"],
        "name": "Koregaon Park",
        "city": "Pune",
        "timezone": "Asia/Kolkata",
    }
    assert Branch.objects.filter(pk=body["id"], name="Koregaon Park").exists()


def test_a_branch_keeps_its_own_timezone(owner: User, tenant: Tenant) -> None:
    response = client_for(owner, tenant).post(
        "/api/v1/branches/", {"name": "Dubai Marina", "timezone": "Asia/Dubai"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["timezone"] == "Asia/Dubai"


def test_an_unknown_timezone_is_refused(owner: User, tenant: Tenant) -> None:
    response = client_for(owner, tenant).post(
        "/api/v1/branches/", {"name": "Nowhere", "timezone": "Asia/Atlantis"}, format="json"
    )

    assert response.status_code == 400
    assert "timezone" in response.json()
    assert not Branch.objects.filter(name="Nowhere").exists()


def test_a_duplicate_branch_name_is_refused(owner: User, tenant: Tenant) -> None:
    response = client_for(owner, tenant).post(
        "/api/v1/branches/", {"name": "main BRANCH"}, format="json"
    )

    assert response.status_code == 400
    assert "name" in response.json()


def test_a_branch_needs_a_name(owner: User, tenant: Tenant) -> None:
    response = client_for(owner, tenant).post("/api/v1/branches/", {"name": "  "}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()


def test_only_owners_and_managers_create_branches(tenant: Tenant, main_branch: Branch) -> None:
    for role in (Role.BRANCH_MANAGER, Role.RECEPTIONIST, Role.DOCTOR):
        user = UserFactory(role=role, branches=[main_branch])
        response = client_for(user, tenant).post(
            "/api/v1/branches/", {"name": f"By {role}"}, format="json"
        )
        assert response.status_code == 403, role
    manager = UserFactory(role=Role.MANAGER)
    response = client_for(manager, tenant).post(
        "/api/v1/branches/", {"name": "By manager"}, format="json"
    )
    assert response.status_code == 201


def test_anonymous_callers_get_401(api: HostClient) -> None:
    assert api.get("/api/v1/branches/").status_code == 401
    assert api.post("/api/v1/branches/", {"name": "x"}, format="json").status_code == 401
