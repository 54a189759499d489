from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from apps.clinic.models import Branch, Role, User
from apps.directory.models import TenantLocation
from apps.tenants import commands
from apps.tenants.commands import tenant_onboard
from apps.tenants.models import Domain, Tenant

VALID = {
    "clinic_name": "Sunrise Clinic",
    "slug": "sunrise",
    "kind": "clinic",
    "owner_name": "Nisha Verma",
    "owner_email": "Nisha@Sunrise.example.com",
    "owner_password": "a-long-unusual-passphrase",
}


def signup(public_api: Any, **overrides: Any) -> Any:
    return public_api.post("/api/v1/onboarding/", {**VALID, **overrides}, format="json")


def schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {name for (name,) in cursor.fetchall()}


def assert_nothing_made(slug: str, schemas_before: set[str]) -> None:
    assert not Tenant.objects.filter(slug=slug).exists()
    assert not TenantLocation.objects.filter(slug=slug).exists()
    assert not Domain.objects.filter(domain__startswith=f"{slug}.").exists()
    assert schemas() == schemas_before


def test_onboarding_creates_schema_domain_owner_and_first_branch(public_api: Any) -> None:
    response = signup(public_api)

    assert response.status_code == 201, response.content
    assert response.json() == {"slug": "sunrise", "domain": "sunrise.localhost", "region": "in"}
    tenant = Tenant.objects.get(slug="sunrise")
    assert (tenant.kind, tenant.timezone, tenant.currency) == ("clinic", "Asia/Kolkata", "INR")
    assert Domain.objects.get(tenant=tenant).domain == "sunrise.localhost"
    assert schema_exists("sunrise")
    with schema_context("sunrise"):
        owner = User.objects.get()
        assert (owner.email, owner.role) == ("nisha@sunrise.example.com", Role.OWNER)
        assert owner.check_password(VALID["owner_password"])
        branch = Branch.objects.get()
        assert branch.timezone == "Asia/Kolkata"


def test_signed_up_clinic_gets_a_token_on_its_own_host(public_api: Any) -> None:
    assert signup(public_api, slug="tokenclinic").status_code == 201
    from tests.conftest import HostClient

    response = HostClient("tokenclinic.localhost").post(
        "/api/v1/auth/token/",
        {"username": VALID["owner_email"], "password": VALID["owner_password"]},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["role"] == "owner"
    assert len(response.json()["token"]) == 40


def test_onboarding_keeps_the_timezone_and_currency_given(public_api: Any) -> None:
    response = signup(public_api, slug="berlin-praxis", timezone="Europe/Berlin", currency="EUR")

    assert response.status_code == 201
    tenant = Tenant.objects.get(slug="berlin-praxis")
    assert (tenant.schema_name, tenant.timezone, tenant.currency) == (
        "berlin_praxis",
        "Europe/Berlin",
        "EUR",
    )
    with schema_context(tenant.schema_name):
        assert Branch.objects.get().timezone == "Europe/Berlin"


def test_cloned_schema_has_every_migration_of_the_template(public_api: Any) -> None:
    assert signup(public_api, slug="clonecheck").status_code == 201

    def applied(schema: str) -> set[tuple[str, str]]:
        with schema_context(schema), connection.cursor() as cursor:
            cursor.execute("SELECT app, name FROM django_migrations")
            return set(cursor.fetchall())

    assert applied("clonecheck") == applied("tenant_template")
    assert ("clinic", "0001_initial") in applied("clonecheck")


@pytest.mark.parametrize("slug", ["www", "admin", "api", "public", "tenant-template", "pg-data"])
def test_reserved_slugs_are_refused(public_api: Any, slug: str) -> None:
    before = schemas()

    response = signup(public_api, slug=slug)

    assert response.status_code == 400
    assert "reserved" in response.json()["slug"][0]
    assert_nothing_made(slug, before)


@pytest.mark.parametrize(
    "slug",
    ["ab", "1clinic", "Sunrise", "sun_rise", "sun rise", "sunrise-", "a" * 32, "", "süd"],
)
def test_malformed_slugs_are_refused(public_api: Any, slug: str) -> None:
    response = signup(public_api, slug=slug)

    assert response.status_code == 400
    assert "slug" in response.json()
    assert not Tenant.objects.filter(slug=slug).exists()


def test_a_taken_slug_is_refused(public_api: Any) -> None:
    assert signup(public_api, slug="taken").status_code == 201

    response = signup(public_api, slug="taken", owner_email="other@example.com")

    assert response.status_code == 400
    assert response.json() == {"slug": ["This address is already taken."]}
    assert Tenant.objects.filter(slug="taken").count() == 1


@pytest.mark.parametrize(
    "password",
    ["short-1", "password123", "12345678901234", "nisha@sunrise.example.com"],
    ids=["too-short", "common", "numeric", "like-email"],
)
def test_weak_passwords_are_refused(public_api: Any, password: str) -> None:
    before = schemas()

    response = signup(public_api, slug="weakpw", owner_password=password)

    assert response.status_code == 400
    assert response.json()["owner_password"]
    assert_nothing_made("weakpw", before)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "pharmacy"),
        ("timezone", "Mars/Olympus"),
        ("currency", "XYZ"),
        ("owner_email", "not-an-email"),
        ("clinic_name", ""),
    ],
)
def test_invalid_fields_are_refused_with_their_name(
    public_api: Any, field: str, value: str
) -> None:
    before = schemas()

    response = signup(public_api, slug="badfield", **{field: value})

    assert response.status_code == 400
    assert field in response.json()
    assert_nothing_made("badfield", before)


def test_missing_body_names_every_required_field(public_api: Any) -> None:
    response = public_api.post("/api/v1/onboarding/", {}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {
        "clinic_name",
        "slug",
        "kind",
        "owner_name",
        "owner_email",
        "owner_password",
    }


def test_malformed_json_is_a_400(public_api: Any) -> None:
    response = public_api.post(
        "/api/v1/onboarding/", data="{not json", content_type="application/json"
    )

    assert response.status_code == 400


def test_a_failure_half_way_leaves_no_tenant_domain_or_schema(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail_after_schema_is_made(**kwargs: Any) -> None:
        assert schema_exists("halfway"), "the failure must come after the schema exists"
        raise RuntimeError("disk full")

    monkeypatch.setattr(commands, "staff_create", fail_after_schema_is_made)
    before = schemas()

    with pytest.raises(RuntimeError, match="disk full"):
        tenant_onboard(**{**VALID, "slug": "halfway"})

    assert_nothing_made("halfway", before)


def test_signup_form_is_served_on_the_public_host(public_api: Any) -> None:
    response = public_api.get("/signup/")

    assert response.status_code == 200
    html = response.content.decode()
    for name in ("clinic_name", "slug", "kind", "owner_email", "owner_password", "timezone"):
        assert f'name="{name}"' in html


def test_signup_form_creates_the_clinic_and_sends_the_owner_to_its_host(public_api: Any) -> None:
    form = {**VALID, "slug": "formclinic", "timezone": "Asia/Kolkata", "currency": "INR"}

    response = public_api.post("/signup/", form)

    assert response.status_code == 302
    assert response["Location"].startswith("http://formclinic.localhost/welcome/")
    assert Tenant.objects.filter(slug="formclinic").exists()


def test_signup_form_shows_errors_and_keeps_what_was_typed(public_api: Any) -> None:
    form = {
        **VALID,
        "slug": "admin",
        "owner_password": "short",
        "timezone": "Asia/Kolkata",
        "currency": "INR",
    }

    response = public_api.post("/signup/", form)

    assert response.status_code == 400
    html = response.content.decode()
    assert "This address is reserved" in html
    assert "too short" in html
    assert 'value="Sunrise Clinic"' in html
    assert not Tenant.objects.filter(slug="admin").exists()
