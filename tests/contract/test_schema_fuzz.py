"""Schemathesis over every operation of the live OpenAPI document, against a real server, as
each role: no server error, every answer documented (status, content type, body), and no
request that the schema allows refused as invalid.

Positive (schema-valid) requests must be accepted unless a documented state refuses them:
401 where the caller's token is not one this operation reads (or there is none), 403 for a
role that may not use it, 404 for an id that names nothing the caller may see, 409 for a
state conflict, 402 for a plan limit reached, 422 for an Idempotency-Key used before with
another body. A 400 on positive data is allowed only on the fields of STATE_RULES, where the
contract refuses input for state or across fields (wrong credentials, a taken name, an end
before its start).
Throttles are lifted for this server process only.
"""

import json
import re
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
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

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:Overriding standard format 'date-time'"),
]

EARLIEST_NAIVE = datetime(1900, 1, 2, tzinfo=UTC).replace(tzinfo=None)
LATEST_NAIVE = datetime(2199, 12, 28, tzinfo=UTC).replace(tzinfo=None)
# Instants are generated within the bounds the request patterns state (apps.core.dates), as
# ISO 8601 with an offset: filtering the standard format through the pattern is too slow.
schemathesis.openapi.format(
    "date-time",
    st.datetimes(EARLIEST_NAIVE, LATEST_NAIVE, timezones=st.just(UTC)).map(
        lambda instant: instant.isoformat(timespec="seconds")
    ),
)

ROLES = ["owner", "manager", "receptionist", "doctor", "patient", "anonymous"]
EXAMPLES = 3  # per operation and mode, each sent as every role: a few minutes in all
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
# Where the contract refuses schema-valid input with a 400 on a named field because of state
# or of a rule across fields that a JSON schema cannot state (each is in the field's or the
# operation's description): the answer may name only these fields.
STATE_RULES = {
    ("POST", "/api/v1/onboarding/"): {"slug", "owner_password"},  # taken; like the name
    ("POST", "/api/v1/auth/token/"): {"detail"},  # wrong credentials
    ("POST", "/api/v1/auth/password/"): {"old_password", "new_password"},
    ("POST", "/api/v1/patient/auth/token/"): {"detail"},  # wrong or expired code
    ("POST", "/api/v1/branches/"): {"name"},  # a branch of that name exists
    ("POST", "/api/v1/staff/"): {"email", "branches", "password"},
    ("POST", "/api/v1/doctors/"): {"weekly_hours", "user"},  # start < end, no overlap
    ("POST", "/api/v1/doctors/{id}/leave/"): {"end_date"},  # on or after the start
    ("POST", "/api/v1/patients/"): {"date_of_birth"},  # a past day
    ("POST", "/api/v1/waitlist/"): {"date"},  # today or later
    ("POST", "/api/v1/patient/waitlist/"): {"date"},
    ("POST", "/api/v1/invoices/{id}/discounts/"): {"amount"},  # an amount or a percent
    ("POST", "/api/v1/invoices/{id}/gst-documents/"): {"recipient_gstin"},  # its check char
    ("POST", "/api/v1/invoices/{id}/lines/{line}/withdraw/"): {"line"},  # no such line
    ("POST", "/api/v1/payments/{id}/refunds/"): {"category"},  # a concession names one
    ("POST", "/api/v1/reconciliation/declarations/"): {"date"},  # a day that has happened
    ("POST", "/api/v1/reconciliation/daily/sign-off/"): {"note"},  # a variance needs one
    ("GET", "/api/v1/reconciliation/analytics/"): {"end"},  # after the start, ten years
    ("POST", "/api/v1/reconciliation/settlements/"): {"file", "rows"},  # the CSV's content
    ("POST", "/api/v1/integrations/hl7/channels/"): {"host"},  # outbound needs host and port
    ("POST", "/api/v1/integrations/hl7/channels/{id}/mappings/"): {"document"},  # its shape
    ("POST", "/api/v1/integrations/hl7/messages/{id}/reprocess/"): {"raw"},  # HL7, same MSH-10
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
        # 402: a plan limit reached (the clinic's plan allows two branches); 422: an
        # Idempotency-Key used before
        allowed = {402, 403, 404, 409, 422}
        if not accepts_token(operation, role):
            allowed.add(401)
        status = response.status_code
        fields = STATE_RULES.get((operation.method.upper(), operation.path), set())
        if status == 400 and fields:
            assert set(response.json()) <= fields, f"valid request refused: {response.text}"
        else:
            assert status < 400 or status in allowed, (
                f"valid request refused with {status}: {response.text[:300]}"
            )
        return True

    return check


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]  # fmt: skip


FIELD_NAME = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")


def is_http_field(name: str, value: Any) -> bool:
    """Whether a generated header can be sent as HTTP at all: negative data also makes names
    that are no token and values with NUL, CR, LF or bytes beyond ASCII, which the web
    server's HTTP parser refuses (a bare 400) before any application could answer."""
    text = str(value)
    return (
        bool(FIELD_NAME.fullmatch(name)) and text.isascii() and not set(text) & {"\0", "\r", "\n"}
    )


def takes_input(operation: Any) -> bool:
    """Whether requests to `operation` can differ at all (else one example says it all)."""
    raw = operation.definition.raw
    return bool(raw.get("requestBody") or [p for p in raw.get("parameters", [])
                                           if p.get("in") in ("path", "query")])  # fmt: skip


def fuzz(operation: Any, mode: GenerationMode, roles: list[str], clinic: Clinic, port: int) -> None:
    """Bounded, reproducible examples of one operation, each sent as every role in turn."""
    public = operation.path.startswith(("/api/v1/onboarding", "/api/v1/directory"))
    host = "localhost" if public else f"{clinic.tenant.replace('_', '-')}.localhost"
    positive = mode == GenerationMode.POSITIVE

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES if takes_input(operation) else 1,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        if positive:
            case.path_parameters = {**case.path_parameters, **existing_ids(clinic, case.path)}
        # Each role brings its own token (or none): not one the schema's security made up.
        case.headers = {
            name: value for name, value in (case.headers or {}).items()
            if name != "Authorization" and is_http_field(name, value)
        }  # fmt: skip
        key = case.headers.get("Idempotency-Key")
        for role in roles:
            headers = {"Host": host}
            if positive and key:  # one key per caller: the same key again would be a replay
                headers["Idempotency-Key"] = f"{key[:240]}-{role}"
            token = clinic.token(role)
            if token:
                headers["Authorization"] = f"Token {token}"
            checks = [*CHECKS, positive_data_accepted(role)] if positive else CHECKS
            try:
                case.call_and_validate(
                    base_url=f"http://127.0.0.1:{port}", headers=headers, checks=checks,
                    timeout=30,
                )  # fmt: skip
            except (Exception, BaseExceptionGroup) as exc:
                raise AssertionError(f"as {role}: {exc}") from exc

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
    failures, fuzzed = [], []
    with django_db_blocker.unblock(), schema_context(clinic.tenant):
        for result in schema.get_all_operations():
            operation = result.ok()
            fuzzed.append((operation.method.lower(), operation.path))
            roles = ["anonymous"] if operation.path.startswith("/api/v1/onboarding") else ROLES
            modes = [GenerationMode.POSITIVE]
            if takes_input(operation):  # else there is nothing to make invalid
                modes.append(GenerationMode.NEGATIVE)
            for mode in modes:
                try:
                    fuzz(operation, mode, roles, clinic, server)
                except Exception as exc:  # noqa: BLE001 (collect every failure, then report)
                    label = f"{operation.method.upper()} {operation.path}, {mode.value}"
                    failures.append(f"{label}: {exc}"[:2000])
    documented = [(m, path) for path, item in document["paths"].items() for m in item]
    assert sorted(fuzzed) == sorted(documented) and len(fuzzed) > 70
    assert failures == [], f"{len(failures)} failures:\n\n" + "\n\n".join(failures)
