from typing import Any

import pytest
from django.core.signals import request_finished
from django.db import connection, connections

from apps.tenants.models import Tenant
from mymedic.health import database_status, redis_status
from tests.conftest import HostClient


@pytest.mark.parametrize("path", ["/api/v1/branches/", "/login/", "/admin/", "/"])
def test_a_host_that_names_no_tenant_answers_404(db: None, path: str) -> None:
    assert HostClient("nosuchclinic.localhost").get(path).status_code == 404


def test_a_host_outside_the_base_domain_answers_404(db: None) -> None:
    assert HostClient("acme.example.org").get("/login/").status_code == 404


def test_public_host_serves_signup_but_no_tenant_routes(public_api: HostClient) -> None:
    assert public_api.get("/signup/").status_code == 200
    assert public_api.get("/api/v1/branches/").status_code == 404
    assert public_api.get("/login/").status_code == 404


def test_tenant_host_serves_tenant_routes_but_not_signup(api: HostClient) -> None:
    assert api.get("/login/").status_code == 200
    assert api.get("/signup/").status_code == 404
    assert api.post("/api/v1/onboarding/", {}, format="json").status_code == 404


def test_a_request_runs_in_its_tenants_schema(api: HostClient, tenant: Tenant) -> None:
    seen: list[str] = []

    def remember_schema(**kwargs: Any) -> None:
        seen.append(connection.schema_name)

    request_finished.connect(remember_schema)
    try:
        api.get("/login/")
    finally:
        request_finished.disconnect(remember_schema)
    assert seen == [tenant.schema_name]


@pytest.mark.parametrize(
    "host", ["localhost", "acme.localhost", "nosuchclinic.localhost", "127.0.0.1", "10.1.2.3:8000"]
)
def test_healthz_answers_on_every_host(db: None, host: str) -> None:
    response = HostClient(host).get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_is_503_and_names_redis_when_redis_is_down(db: None, settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    response = HostClient("localhost").get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "ok"
    assert body["redis"].startswith("error")


def test_database_check_reports_an_unreachable_server(db: None) -> None:
    wrapper_class = type(connections["default"])
    unreachable = wrapper_class({**connection.settings_dict, "PORT": 1}, alias="probe")
    try:
        assert database_status(unreachable).startswith("error: OperationalError")
    finally:
        unreachable.close()
    assert database_status(connection) == "ok"


def test_redis_check_reports_an_unreachable_server() -> None:
    assert redis_status("redis://127.0.0.1:1/0").startswith("error")
