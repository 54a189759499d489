"""Every route of a module outside the tenant's plan answers 402, whoever asks; routes of no
module are never gated; a trial opens every module."""

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from apps.clinic.models import User
from apps.plans.models import Plan, Subscription
from apps.plans.modules import GATES, MODULES, module_of
from apps.tenants.models import Tenant
from tests.conftest import HostClient, client_for
from tests.plans.conftest import PutOnPlan


def tenant_paths() -> list[str]:
    """A concrete path for every route of a tenant host (ids filled in with 1)."""
    found: list[str] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if "(?P" in route:  # the admin's regular-expression app index: its models stand for it
                continue
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern):
                path = "/" + route.replace("<int:", "<").replace("^", "").replace("$", "")
                while "<" in path:
                    start, end = path.index("<"), path.index(">")
                    path = path[:start] + "1" + path[end + 1 :]
                found.append(path)

    walk(get_resolver("mymedic.urls_tenant").url_patterns, "")
    return found


GATED = sorted({path for path in tenant_paths() if module_of(path) is not None})


def test_the_gated_routes_are_those_of_the_modules_of_this_checkout() -> None:
    gated_modules = {module_of(path) for path in GATED}
    assert gated_modules == {
        "billing", "reconciliation", "patient_app", "reminders", "integration"
    }  # fmt: skip
    assert {gate.module for gate in GATES} <= set(MODULES)
    assert len(GATED) > 20


@pytest.mark.parametrize("path", GATED)
def test_a_route_of_a_module_outside_the_plan_answers_402(
    path: str, tenant: Tenant, owner: User, put_on_plan: PutOnPlan
) -> None:
    put_on_plan()
    module = module_of(path)
    owner_client = client_for(owner, tenant)
    owner_client.force_login(owner)
    for method in ("get", "post"):
        response = getattr(owner_client, method)(path)
        assert response.status_code == 402, (method, response.status_code)
        if path.startswith(("/api/", "/fhir/")):
            assert response.json() == {
                "detail": response.json()["detail"],
                "module": module,
            }
            assert "is not in your plan (Bare)" in response.json()["detail"]
        else:
            assert b"is not in your plan" in response.content
            assert b"What it adds" in response.content


def test_a_gated_route_answers_402_before_asking_who_calls(
    tenant: Tenant, put_on_plan: PutOnPlan
) -> None:
    put_on_plan()
    anonymous = HostClient(f"{tenant.slug}.localhost")
    response = anonymous.get("/api/v1/reconciliation/daily/?branch=1&date=2027-01-04")
    assert response.status_code == 402
    assert response.json()["module"] == "reconciliation"


def test_routes_of_no_module_are_not_gated(
    tenant: Tenant, owner: User, put_on_plan: PutOnPlan
) -> None:
    put_on_plan()
    owner_client = client_for(owner, tenant)
    assert owner_client.get("/api/v1/doctors/").status_code == 200
    assert owner_client.get("/api/v1/appointments/").status_code == 200
    assert owner_client.get("/api/v1/subscription/").status_code == 200


def test_a_plan_with_the_module_opens_its_routes(
    tenant: Tenant, owner: User, put_on_plan: PutOnPlan
) -> None:
    put_on_plan(Plan.objects.get(slug="chain"))
    owner_client = client_for(owner, tenant)
    assert owner_client.get("/api/v1/billing/settings/").status_code == 200
    assert owner_client.get("/api/v1/notifications/dead-letter/").status_code == 200


def test_a_trial_opens_every_module_whatever_the_plan(
    tenant: Tenant, owner: User, put_on_plan: PutOnPlan
) -> None:
    put_on_plan(status=Subscription.Status.TRIAL)
    owner_client = client_for(owner, tenant)
    assert owner_client.get("/api/v1/billing/settings/").status_code == 200
    assert owner_client.get("/api/v1/subscription/").json()["modules"] == list(MODULES)
