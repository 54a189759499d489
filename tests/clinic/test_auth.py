from django_tenants.utils import schema_context

from apps.clinic.models import Role, User
from apps.tenants.models import Tenant
from tests.clinic.factories import STAFF_PASSWORD, UserFactory
from tests.conftest import OWNER_PASSWORD, HostClient, client_for


def test_token_for_a_staff_member_carries_their_role(api: HostClient, main_branch: object) -> None:
    UserFactory(email="desk@acme.example.com", role=Role.RECEPTIONIST, branches=[main_branch])

    response = api.post(
        "/api/v1/auth/token/",
        {"username": "Desk@Acme.example.com", "password": STAFF_PASSWORD},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["role"] == "receptionist"
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.get("/api/v1/branches/").status_code == 200


def test_a_wrong_password_gets_no_token(api: HostClient, owner: User) -> None:
    response = api.post(
        "/api/v1/auth/token/", {"username": owner.email, "password": "wrong"}, format="json"
    )

    assert response.status_code == 400
    assert "token" not in response.json()


def test_an_inactive_user_gets_no_token(api: HostClient) -> None:
    UserFactory(email="gone@acme.example.com", is_active=False)

    response = api.post(
        "/api/v1/auth/token/",
        {"username": "gone@acme.example.com", "password": STAFF_PASSWORD},
        format="json",
    )

    assert response.status_code == 400


def test_token_request_without_fields_is_a_400(api: HostClient) -> None:
    response = api.post("/api/v1/auth/token/", {}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_a_user_of_one_tenant_cannot_sign_in_on_another(other_tenant: Tenant) -> None:
    response = HostClient(f"{other_tenant.slug}.localhost").post(
        "/api/v1/auth/token/",
        {"username": "owner@acme.example.com", "password": OWNER_PASSWORD},
        format="json",
    )

    assert response.status_code == 400


def test_a_token_of_one_tenant_is_refused_on_another(owner: User, other_tenant: Tenant) -> None:
    acme_client = client_for(owner, Tenant.objects.get(slug="acme"))
    token_header = acme_client._credentials["HTTP_AUTHORIZATION"]
    with schema_context("public"):
        globex = HostClient(f"{other_tenant.slug}.localhost")
    globex.credentials(HTTP_AUTHORIZATION=token_header)

    assert globex.get("/api/v1/branches/").status_code == 401


def test_no_token_or_a_bad_token_is_a_401(api: HostClient, tenant: Tenant) -> None:
    assert api.get("/api/v1/branches/").status_code == 401
    api.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert api.get("/api/v1/branches/").status_code == 401


def test_staff_sign_in_on_the_web_lands_on_the_console(api: HostClient, owner: User) -> None:
    page = api.get("/login/")
    assert page.status_code == 200
    assert 'name="username"' in page.content.decode()

    response = api.post("/login/", {"username": owner.email, "password": OWNER_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/reception/"


def test_web_sign_in_with_a_wrong_password_shows_an_error(api: HostClient, owner: User) -> None:
    response = api.post("/login/", {"username": owner.email, "password": "nope-nope"})

    assert response.status_code == 200
    assert "enter a correct" in response.content.decode().lower()


def test_me_names_the_tokens_staff_member(owner: User, tenant: Tenant) -> None:
    response = client_for(owner, tenant).get("/api/v1/auth/me/")

    assert response.status_code == 200
    assert response.json() == {
        "id": owner.pk,
        "email": owner.email,
        "name": owner.name,
        "role": Role.OWNER,
    }


def test_me_needs_a_token_of_this_tenant(owner: User, tenant: Tenant, other_tenant: Tenant) -> None:
    assert HostClient(f"{tenant.slug}.localhost").get("/api/v1/auth/me/").status_code == 401
    client = client_for(owner, tenant)
    client.defaults["HTTP_HOST"] = f"{other_tenant.slug}.localhost"

    assert client.get("/api/v1/auth/me/").status_code == 401
