"""The global directory: written by onboarding, read by the directory API, removed with the
tenant, flipped by `relocate`; region-aware onboarding picks a cell with room."""

from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.test import override_settings
from django_tenants.utils import schema_context

from apps.clinic.models import Role, User
from apps.core.errors import InvalidInput, NotFound
from apps.directory.cells import all_cells, place
from apps.directory.commands import relocate
from apps.directory.forward import SECRET_HEADER
from apps.directory.models import TenantLocation
from apps.tenants.commands import tenants_register_in_directory, tenants_unrouted
from apps.tenants.models import Tenant
from apps.tenants.tasks import repair_directory
from apps.tenants.verification import reap_unverified
from tests.servers import free_port

SIGNUP = {
    "clinic_name": "Lotus Clinic",
    "slug": "lotus",
    "kind": "clinic",
    "owner_name": "Meera Iyer",
    "owner_email": "meera@lotus.example.com",
    "owner_password": "a-long-unusual-passphrase",
}


def cells(**extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """This process's cell as configured, plus `extra` cells."""
    here = dict(settings.MYMEDIC_CELLS[settings.MYMEDIC_CELL])
    return {settings.MYMEDIC_CELL: here, **extra}


def unreachable_cell(region: str, capacity: int = 10) -> dict[str, Any]:
    return {
        "region": region,
        "database_url": "postgres://nobody@127.0.0.1:1/none",
        "url": f"http://127.0.0.1:{free_port()}",
        "capacity": capacity,
    }


def test_onboarding_records_the_tenant_in_the_directory(public_api: Any) -> None:
    response = public_api.post("/api/v1/onboarding/", SIGNUP, format="json")

    assert response.status_code == 201, response.content
    assert response.json() == {"slug": "lotus", "domain": "lotus.localhost", "region": "in"}
    location = TenantLocation.objects.get(slug="lotus")
    assert (location.region, location.cell, location.hosts) == (
        "in",
        settings.MYMEDIC_CELL,
        ["lotus.localhost"],
    )
    assert Tenant.objects.get(slug="lotus").region == "in"


def test_the_directory_api_names_region_host_and_cell(public_api: Any) -> None:
    public_api.post("/api/v1/onboarding/", SIGNUP, format="json")

    response = public_api.get("/api/v1/directory/lotus/")

    assert response.status_code == 200
    assert response.json() == {
        "slug": "lotus",
        "region": "in",
        "domain": "lotus.localhost",
        "cell": settings.MYMEDIC_CELL,
        "api": "http://lotus.localhost/api/v1/",
    }


def test_the_directory_api_links_the_tenant_on_the_port_the_caller_used(public_api: Any) -> None:
    # Behind the edge the application's own port is not the caller's: the Host header says it.
    public_api.post("/api/v1/onboarding/", SIGNUP, format="json")

    response = public_api.get("/api/v1/directory/lotus/", HTTP_HOST="localhost:8650")

    assert response.json()["api"] == "http://lotus.localhost:8650/api/v1/"


def test_the_directory_api_answers_404_in_the_api_format_for_an_unknown_slug(
    public_api: Any,
) -> None:
    response = public_api.get("/api/v1/directory/nobody-here/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


@pytest.mark.parametrize("slug", ["Lotus", "lotus%00", "a" * 40, "%F0%9F%98%80"])
def test_the_directory_api_answers_404_for_what_cannot_be_a_slug(
    public_api: Any, slug: str
) -> None:
    response = public_api.get(f"/api/v1/directory/{slug}/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_the_directory_api_is_not_served_on_a_tenant_host(api: Any) -> None:
    assert api.get("/api/v1/directory/acme/").status_code == 404


def test_an_unknown_region_is_a_clear_400_and_nothing_is_made(public_api: Any) -> None:
    response = public_api.post("/api/v1/onboarding/", {**SIGNUP, "region": "mars"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["region"]
    assert not Tenant.objects.filter(slug="lotus").exists()
    assert not TenantLocation.objects.filter(slug="lotus").exists()


def test_a_full_region_answers_503_with_a_clear_message(public_api: Any) -> None:
    here = settings.MYMEDIC_CELL
    taken = TenantLocation.objects.filter(cell=here).count()
    with override_settings(
        MYMEDIC_CELLS=cells(**{here: {**settings.MYMEDIC_CELLS[here], "capacity": taken}})
    ):
        response = public_api.post("/api/v1/onboarding/", SIGNUP, format="json")

    assert response.status_code == 503
    assert "Region in is not taking new sign-ups" in response.json()["detail"]
    assert not Tenant.objects.filter(slug="lotus").exists()


def test_the_region_of_a_cell_with_room_is_chosen_over_a_full_one() -> None:
    with override_settings(
        MYMEDIC_CELLS={"in-1": unreachable_cell("in", 0), "in-2": unreachable_cell("in", 5)},
        MYMEDIC_CELL="in-1",
    ):
        assert place("in").name == "in-2"
        with pytest.raises(InvalidInput):
            place("eu")


def test_a_region_served_by_another_cell_is_forwarded_there(public_api: Any) -> None:
    # The gcc cell is configured but not running: the forward cannot reach it, so the sign-up
    # answers 503 and nothing is made here (tests/cells/ runs it against a real second cell).
    with override_settings(MYMEDIC_CELLS=cells(gcc=unreachable_cell("gcc"))):
        response = public_api.post(
            "/api/v1/onboarding/", {**SIGNUP, "region": "gcc"}, format="json"
        )

    assert response.status_code == 503
    assert "cannot be reached" in response.json()["detail"]
    assert not Tenant.objects.filter(slug="lotus").exists()
    assert not TenantLocation.objects.filter(slug="lotus").exists()


def test_a_slug_another_cell_holds_is_taken(public_api: Any) -> None:
    TenantLocation.objects.create(slug="lotus", region="gcc", cell="gcc", hosts=["lotus.localhost"])

    response = public_api.post("/api/v1/onboarding/", SIGNUP, format="json")

    assert response.status_code == 400
    assert response.json() == {"slug": ["This address is already taken."]}
    assert not Tenant.objects.filter(slug="lotus").exists()


def test_the_cell_onboarding_endpoint_answers_404_without_the_cell_secret(
    public_api: Any,
) -> None:
    body = {**SIGNUP, "site_url": "http://localhost"}
    refused = [
        public_api.post("/internal/cells/onboarding/", body, format="json"),
        public_api.post(
            "/internal/cells/onboarding/", body, format="json", HTTP_X_MYMEDIC_CELL_SECRET="guess"
        ),
    ]

    assert [answer.status_code for answer in refused] == [404, 404]
    assert not Tenant.objects.filter(slug="lotus").exists()


def test_the_cell_onboarding_endpoint_onboards_here_for_a_cell_with_the_secret(
    public_api: Any,
) -> None:
    response = public_api.post(
        "/internal/cells/onboarding/",
        {**SIGNUP, "site_url": "http://localhost"},
        format="json",
        **{f"HTTP_{SECRET_HEADER.upper().replace('-', '_')}": settings.MYMEDIC_CELL_SECRET},
    )

    assert response.status_code == 201, response.content
    tenant = Tenant.objects.get(slug="lotus")
    assert response.json() == {
        "slug": "lotus",
        "domain": "lotus.localhost",
        "region": "in",
        "schema_name": tenant.schema_name,
        "owner_id": response.json()["owner_id"],
    }
    assert TenantLocation.objects.filter(slug="lotus", cell=settings.MYMEDIC_CELL).exists()


def test_a_reaped_tenant_leaves_the_directory(public_api: Any) -> None:
    public_api.post("/api/v1/onboarding/", SIGNUP, format="json")
    Tenant.objects.filter(slug="lotus").update(created="2000-01-01T00:00:00Z")

    assert reap_unverified(slugs=["lotus"]) == ["lotus"]

    assert not TenantLocation.objects.filter(slug="lotus").exists()


def test_a_tenant_deleted_after_moving_away_keeps_its_new_place(public_api: Any) -> None:
    public_api.post("/api/v1/onboarding/", SIGNUP, format="json")
    TenantLocation.objects.filter(slug="lotus").update(cell="in-2")

    Tenant.objects.get(slug="lotus").delete(force_drop=True)

    assert TenantLocation.objects.get(slug="lotus").cell == "in-2"


def test_a_host_the_edge_has_not_mapped_yet_is_retried_not_called_unknown(
    public_api: Any,
) -> None:
    # Until the edge reloads its map, it sends a new host to the directory's cell (here):
    # the directory places the clinic in gcc, so this cell says "retry", not "no clinic".
    TenantLocation.objects.create(slug="dune", region="gcc", cell="gcc", hosts=["dune.localhost"])
    with override_settings(MYMEDIC_CELLS=cells(gcc=unreachable_cell("gcc"))):
        api = public_api.get("/api/v1/auth/me/", HTTP_HOST="dune.localhost")
        page = public_api.get("/login/", HTTP_HOST="dune.localhost")
        unknown = public_api.get("/api/v1/auth/me/", HTTP_HOST="nobody.localhost")

    assert (api.status_code, api["Retry-After"]) == (503, "1")
    assert "retry" in api.json()["detail"]
    assert (page.status_code, page["Retry-After"]) == (503, "1")
    assert unknown.status_code == 404


def test_with_one_cell_an_unknown_host_is_404_whatever_the_directory_says(
    public_api: Any,
) -> None:
    TenantLocation.objects.create(slug="dune", region="gcc", cell="gcc", hosts=["dune.localhost"])

    response = public_api.get("/api/v1/auth/me/", HTTP_HOST="dune.localhost")

    assert response.status_code == 404


def test_relocate_points_the_tenant_at_another_cell_of_its_region(public_api: Any) -> None:
    public_api.post("/api/v1/onboarding/", SIGNUP, format="json")
    with override_settings(MYMEDIC_CELLS=cells(**{"in-2": unreachable_cell("in")})):
        relocate(actor=None, slug="lotus", cell="in-2")

    assert TenantLocation.objects.get(slug="lotus").cell == "in-2"


def test_relocate_refuses_a_cell_of_another_region_and_an_unknown_tenant(
    public_api: Any,
) -> None:
    public_api.post("/api/v1/onboarding/", SIGNUP, format="json")
    with override_settings(MYMEDIC_CELLS=cells(gcc=unreachable_cell("gcc"))):
        with pytest.raises(InvalidInput, match="region gcc"):
            relocate(actor=None, slug="lotus", cell="gcc")
        with pytest.raises(NotFound):
            relocate(actor=None, slug="nobody-here", cell="gcc")

    assert TenantLocation.objects.get(slug="lotus").cell == settings.MYMEDIC_CELL


def test_tenants_made_before_the_directory_are_recorded_by_setup(tenant: Tenant) -> None:
    TenantLocation.objects.filter(slug=tenant.slug).delete()

    added = tenants_register_in_directory()

    assert tenant.slug in added
    location = TenantLocation.objects.get(slug=tenant.slug)
    assert (location.region, location.cell, location.hosts) == (
        "in",
        settings.MYMEDIC_CELL,
        [f"{tenant.slug}.localhost"],
    )
    assert tenants_register_in_directory() == []


def test_the_default_configuration_is_one_cell_in_region_in() -> None:
    assert [(cell.name, cell.region) for cell in all_cells()] == [("local", "in")]


def test_a_tenant_the_directory_lost_is_counted_then_recorded_by_the_repair(
    tenant: Tenant, public_api: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # A sign-up whose tenant committed here while the separate directory database failed to
    # commit its place: the edge cannot route it until the repair (beat, every minute).
    TenantLocation.objects.filter(slug=tenant.slug).delete()
    settings.MYMEDIC_METRICS_TOKEN = "s3cret"
    unrouted = tenants_unrouted()
    before = public_api.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").content.decode()

    added = repair_directory()

    assert settings.CELERY_BEAT_SCHEDULE["repair-directory"] == {
        "task": "apps.tenants.tasks.repair_directory",
        "schedule": 60.0,
    }
    assert tenant.slug in unrouted
    assert f"mymedic_tenants_unrouted {len(unrouted)}\n" in before
    assert tenant.slug in added
    assert f"tenant {tenant.slug} was unrouted" in caplog.text
    assert tenants_unrouted() == []
    assert TenantLocation.objects.get(slug=tenant.slug).hosts == [f"{tenant.slug}.localhost"]
    after = public_api.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").content.decode()
    assert "mymedic_tenants_unrouted 0\n" in after


@pytest.mark.usefixtures("celery_in_process")
def test_a_sign_up_another_cell_forwards_keeps_the_owners_language(public_api: Any) -> None:
    response = public_api.post(
        "/internal/cells/onboarding/",
        {**SIGNUP, "site_url": "http://localhost", "owner_language": "hi"},
        format="json",
        **{f"HTTP_{SECRET_HEADER.upper().replace('-', '_')}": settings.MYMEDIC_CELL_SECRET},
    )

    assert response.status_code == 201, response.content
    with schema_context(Tenant.objects.get(slug="lotus").schema_name):
        assert User.objects.get(role=Role.OWNER).language == "hi"
    assert mail.outbox[-1].subject.startswith("MyMedic पर ")
