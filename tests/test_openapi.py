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
from tests.conftest import HostClient

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
