"""The OpenAPI document, and Schemathesis over every operation in it: no server error on
any generated input, and every documented response matches its schema."""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from apps.clinic import tokens
from apps.clinic.models import User
from apps.tenants.models import Tenant
from tests.conftest import HostClient, client_for

app = WSGIHandler()  # Django is set up already; setting it up again would reset logging
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", app)
EXAMPLES = 10  # per operation: bounded, so `make test` stays quick


def test_the_schema_and_docs_are_served_on_both_hosts(
    api: HostClient, public_api: HostClient
) -> None:
    for client in (api, public_api):
        document = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
        assert document["openapi"].startswith("3.")
        assert "/api/v1/onboarding/" in document["paths"]
        assert "/api/v1/appointments/{id}/payments/" in document["paths"]
        docs = client.get("/api/v1/docs/")
        assert docs.status_code == 200 and b"swagger" in docs.content.lower()
        assert b"cdn" not in docs.content.lower()  # assets are served by the app itself


def test_the_schema_is_json_when_asked_with_format_json_and_yaml_by_default(
    api: HostClient,
) -> None:
    as_json = api.get("/api/v1/schema/?format=json")
    assert as_json["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert as_json.json()["openapi"].startswith("3.")
    as_yaml = api.get("/api/v1/schema/")
    assert as_yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    assert as_yaml.content.startswith(b"openapi: 3.")


def test_a_path_no_api_route_matches_is_a_json_404(api: HostClient) -> None:
    answer = api.get("/api/v1/appointments/not-a-number/")
    assert (answer.status_code, answer["Content-Type"]) == (404, "application/json")
    assert answer.json() == {"detail": "Not found."}
    page = api.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_a_patient_without_email_has_null_never_an_empty_string(
    owner: User, tenant: Tenant
) -> None:
    desk = client_for(owner, tenant)
    created = desk.post(
        "/api/v1/patients/", {"name": "Asha Rao", "phone": "+919812345678"}, format="json"
    )
    assert created.status_code == 201 and created.json()["email"] is None
    patient = created.json()["id"]
    assert desk.get(f"/api/v1/patients/{patient}/").json()["email"] is None
    listed = desk.get("/api/v1/patients/", {"phone": "+919812345678"}).json()["results"]
    assert [row["email"] for row in listed] == [None]


def test_booking_is_documented_as_doctor_patient_start(api: HostClient) -> None:
    document = api.get("/api/v1/schema/?format=json").json()
    body = document["paths"]["/api/v1/appointments/"]["post"]["requestBody"]
    name = body["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    request = document["components"]["schemas"][name]
    assert set(request["properties"]) == {"doctor", "patient", "start", "confirm_duplicate"}
    assert set(request["required"]) == {"doctor", "patient", "start"}
    answer = document["paths"]["/api/v1/appointments/"]["post"]["responses"]["201"]
    created = answer["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert "position" in document["components"]["schemas"][created]["required"]


def test_every_contract_path_is_documented(api: HostClient) -> None:
    paths = set(api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()["paths"])
    contract = {
        "/api/v1/onboarding/", "/api/v1/auth/token/", "/api/v1/staff/", "/api/v1/branches/",
        "/api/v1/doctors/", "/api/v1/doctors/{id}/slots/", "/api/v1/doctors/{id}/day/",
        "/api/v1/patients/", "/api/v1/patients/{id}/", "/api/v1/appointments/",
        "/api/v1/appointments/{id}/", "/api/v1/appointments/{id}/cancel/",
        "/api/v1/appointments/{id}/reschedule/", "/api/v1/appointments/{id}/check-in/",
        "/api/v1/appointments/{id}/complete/", "/api/v1/appointments/{id}/no-show/",
        "/api/v1/appointments/{id}/follow-up/", "/api/v1/appointments/{id}/payments/",
        "/api/v1/appointments/{id}/invoice/", "/api/v1/payments/{id}/refunds/",
        "/api/v1/branches/{id}/board/", "/api/v1/events/",
        "/api/v1/reconciliation/declarations/", "/api/v1/reconciliation/run/",
        "/api/v1/reconciliation/daily/", "/api/v1/reconciliation/weekly/",
        "/api/v1/reconciliation/monthly/", "/api/v1/audit/verify/",
        "/api/v1/invoices/{id}/discounts/", "/api/v1/invoices/{id}/lines/{line}/withdraw/",
    }  # fmt: skip
    assert contract <= paths, contract - paths


@pytest.fixture
def token(owner: User, tenant: Tenant) -> Iterator[str]:
    # Like Django's test client: the WSGI app must not close the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield tokens.mint(owner)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def fuzz(operation: Any, host: str, token: str) -> None:
    """Bounded, reproducible examples of one operation, each checked against the schema."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(
            headers={"Host": host, "Authorization": f"Token {token}"},
            checks=[not_a_server_error, response_schema_conformance],
        )

    check()


@pytest.mark.slow
def test_every_operation_fuzzed_from_the_schema(token: str) -> None:
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        host = "localhost" if operation.path.startswith("/api/v1/onboarding") else "acme.localhost"
        try:
            fuzz(operation, host, token)
        except Exception as exc:  # noqa: BLE001  (collect every operation's failure, then report)
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:1500])
    assert failures == [], "\n\n".join(failures)
