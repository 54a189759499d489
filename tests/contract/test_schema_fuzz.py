"""Schemathesis over every operation of the live OpenAPI document, against a real server, as
each role: no server error, every answer documented (status, content type, body), and no
request that the schema allows refused as invalid.

Positive (schema-valid) requests must be accepted unless a documented state refuses them:
401 where the caller's token is not one this operation reads (or there is none), 403 for a
role that may not use it, 404 for an id that names nothing the caller may see, 409 for a
state conflict. A 400 on positive data is allowed only where the contract makes it a state
rule (wrong credentials, an invoice line the invoice does not have). Throttles are lifted
for this server process only.
"""

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.tenants.models import Tenant
from tests import servers
from tests.contract.seed import Clinic, existing_ids, seed

pytestmark = pytest.mark.slow

ROLES = ["owner", "manager", "receptionist", "doctor", "patient", "anonymous"]
EXAMPLES = 4  # per operation, role and mode: the whole run stays within a few minutes
UNTHROTTLED = {
    "MYMEDIC_API_USER_RATE": "100000/min",
    "MYMEDIC_API_ANON_RATE": "100000/min",
    "MYMEDIC_PATIENT_CODE_PHONE_RATE": "100000/min",
    "MYMEDIC_PATIENT_CODE_IP_RATE": "100000/min",
    "MYMEDIC_PATIENT_SIGNIN_PHONE_RATE": "100000/min",
    "MYMEDIC_PATIENT_SIGNIN_IP_RATE": "100000/min",
    "MYMEDIC_LOGIN_FAILURE_LIMIT": "100000",
    "MYMEDIC_LOGIN_ADDRESS_LIMIT": "100000",
    "MYMEDIC_SIGNUPS_PER_ADDRESS_HOUR": "100000",
    "MYMEDIC_SIGNUPS_PER_DOMAIN_DAY": "100000",
}
# Where the contract refuses schema-valid input with a 400 because of state the schema
# cannot know: the secret (credentials, the old password, the SMS code), the invoice's lines.
STATE_RULE_400 = {
    ("POST", "/api/v1/auth/token/"),
    ("POST", "/api/v1/auth/password/"),
    ("POST", "/api/v1/patient/auth/token/"),
    ("POST", "/api/v1/invoices/{id}/lines/{line}/withdraw/"),
}
SCHEMES = {"patient": "patientToken", "anonymous": None}


@pytest.fixture(scope="module")
def clinic(committed_tenant: Tenant, django_db_blocker: Any) -> Clinic:
    with django_db_blocker.unblock():
        return seed(committed_tenant)


@pytest.fixture(scope="module")
def server(committed_tenant: Tenant, django_db_blocker: Any) -> Iterator[int]:
    with django_db_blocker.unblock():
        before = set(Tenant.objects.values_list("pk", flat=True))
        with servers.asgi_server(**UNTHROTTLED) as port:
            yield port
        for made in Tenant.objects.exclude(pk__in=before):  # clinics that onboarding made
            made.delete(force_drop=True)


def accepts_token(operation: Any, role: str) -> bool:
    scheme = SCHEMES.get(role, "tokenAuth")
    security = operation.definition.raw.get("security", [])
    return scheme is not None and any(scheme in requirement for requirement in security)


def positive_data_accepted(role: str) -> Any:
    def check(ctx: Any, response: Any, case: Any) -> bool:
        operation = case.operation
        allowed = {403, 404, 409}
        if not accepts_token(operation, role):
            allowed.add(401)
        if (operation.method.upper(), operation.path) in STATE_RULE_400:
            allowed.add(400)
        status = response.status_code
        assert status < 400 or status in allowed, (
            f"valid request refused with {status}: {response.text[:300]}"
        )
        return True

    return check


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]  # fmt: skip


def fuzz(operation: Any, mode: GenerationMode, role: str, clinic: Clinic, port: int) -> None:
    public = operation.path.startswith("/api/v1/onboarding")
    host = "localhost" if public else f"{clinic.tenant.replace('_', '-')}.localhost"
    positive = mode == GenerationMode.POSITIVE
    checks = [*CHECKS, positive_data_accepted(role)] if positive else CHECKS

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        if positive:
            case.path_parameters = {**case.path_parameters, **existing_ids(clinic, case.path)}
        headers = {"Host": host}
        token = clinic.token(role)
        if token:
            headers["Authorization"] = f"Token {token}"
        case.call_and_validate(
            base_url=f"http://127.0.0.1:{port}", headers=headers, checks=checks, timeout=30
        )

    check()


def test_every_operation_as_every_role_keeps_the_contract(
    clinic: Clinic, server: int, django_db_blocker: Any
) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server}/api/v1/schema/?format=json", headers={"Host": "localhost"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (loopback)
        document = json.load(answer)
    schema = schemathesis.openapi.from_dict(document)
    failures = []
    with django_db_blocker.unblock(), schema_context(clinic.tenant):
        for result in schema.get_all_operations():
            operation = result.ok()
            roles = ["anonymous"] if operation.path.startswith("/api/v1/onboarding") else ROLES
            for role in roles:
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    try:
                        fuzz(operation, mode, role, clinic, server)
                    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 (collect all, then report)
                        label = f"{operation.method.upper()} {operation.path} as {role}, {mode}"
                        failures.append(f"{label}: {exc}"[:1500])
    assert failures == [], f"{len(failures)} failures:\n\n" + "\n\n".join(failures)
