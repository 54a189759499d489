"""What a token read skips, and what it keeps: the console's session, user and messages are
passed by (apps/core/consoleonly.py), the content-security policy is built once per process
(mymedic/csp.py), DRF's negotiation is answered at once for the usual Accept headers
(apps/core/api.Negotiation) and a day's query string is parsed once; every security header
and every refusal stays as it was."""

from typing import Any

import pytest
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.http import HttpResponse
from django.test import RequestFactory
from django_tenants.utils import schema_context
from rest_framework.request import Request

from apps.clinic import tokens
from apps.clinic.models import Branch, Role, User
from apps.clinic.tokens import StaffTokenAuthentication
from apps.core.consoleonly import token_api_request
from apps.core.shortlived import ShortLived
from apps.scheduling.models import Doctor
from apps.tenants.models import Tenant
from mymedic.csp import CSPMiddleware
from tests.clinic.factories import STAFF_PASSWORD, UserFactory
from tests.conftest import OWNER_PASSWORD, HostClient, client_for

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def test_a_token_read_carries_every_security_header_a_page_carries(
    api: HostClient, owner: User, tenant: Tenant
) -> None:
    page = api.get("/login/")
    read = client_for(owner, tenant).get("/api/v1/auth/me/")

    assert read.status_code == 200
    for response in (page, read):
        for header, value in SECURITY_HEADERS.items():
            assert response[header] == value, header
        assert response[HEADER] == build_policy()
    assert "frame-ancestors 'none'" in read[HEADER]


def test_the_policy_built_once_follows_its_settings(
    owner: User, tenant: Tenant, settings: Any
) -> None:
    client = client_for(owner, tenant)
    assert "report-uri" not in client.get("/api/v1/auth/me/")[HEADER]

    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {
        "DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/csp-reports/"}
    }
    response = client.get("/api/v1/auth/me/")

    assert response[HEADER] == "default-src 'none'"
    assert response[HEADER_REPORT_ONLY] == "default-src 'self'; report-uri /csp-reports/"


def test_a_response_with_its_own_policy_and_a_used_nonce_go_through_django_csp() -> None:
    middleware = CSPMiddleware(lambda request: HttpResponse())
    request = RequestFactory().get("/login/")
    middleware.process_request(request)
    nonce = str(request.csp_nonce)  # type: ignore[attr-defined]
    response = HttpResponse()
    response._csp_update = {"img-src": ["https://maps.example.com"]}  # type: ignore[attr-defined]

    policy = middleware.process_response(request, response)[HEADER]

    assert "img-src 'self' data: https://maps.example.com" in policy
    assert policy == build_policy(update=response._csp_update, nonce=nonce)  # type: ignore[attr-defined]
    plain = middleware.process_response(RequestFactory().get("/login/"), HttpResponse())
    assert plain[HEADER] == build_policy()


def test_a_token_names_the_caller_even_beside_a_session_cookie(
    api: HostClient, owner: User, tenant: Tenant, main_branch: Branch
) -> None:
    desk = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])
    assert api.post("/login/", {"username": desk.email, "password": STAFF_PASSWORD}).status_code
    assert api.get("/api/v1/auth/me/").json()["id"] == desk.pk  # the cookie alone: the desk

    as_owner = client_for(owner, tenant)
    as_owner.cookies = api.cookies
    response = as_owner.get("/api/v1/auth/me/")

    assert response.json()["id"] == owner.pk
    assert "Cookie" not in response.get("Vary", "")  # the session was not read
    assert not response.cookies  # nor written


@pytest.mark.parametrize("header", ["Token", "Token a b", "token not-a-key"])
def test_a_bad_token_is_refused_although_a_session_is_signed_in(
    api: HostClient, owner: User, header: str
) -> None:
    assert api.post("/login/", {"username": owner.email, "password": OWNER_PASSWORD}).status_code
    assert api.get("/api/v1/auth/me/").status_code == 200

    assert api.get("/api/v1/auth/me/", HTTP_AUTHORIZATION=header).status_code == 401


def test_only_api_paths_with_a_token_skip_the_console() -> None:
    factory = RequestFactory()

    assert token_api_request(factory.get("/api/v1/auth/me/", HTTP_AUTHORIZATION="Token k"))
    assert token_api_request(factory.get("/api/v1/auth/me/", HTTP_AUTHORIZATION="TOKEN k"))
    assert not token_api_request(factory.get("/api/v1/auth/me/"))
    assert not token_api_request(factory.get("/api/v1/auth/me/", HTTP_AUTHORIZATION="Bearer k"))
    assert not token_api_request(factory.get("/login/", HTTP_AUTHORIZATION="Token k"))
    assert not token_api_request(factory.get("/board/", HTTP_AUTHORIZATION="Token k"))


@pytest.mark.parametrize(
    "accept",
    [None, "*/*", "application/*", "application/json", "text/html, application/json;q=0.9"],
)
def test_reads_answer_json_for_every_accept_header_that_allows_it(
    owner: User, tenant: Tenant, accept: str | None
) -> None:
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = client_for(owner, tenant).get("/api/v1/auth/me/", **extra)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


# (text/html is answered by DRF's browsable renderer where DEBUG is on.)
@pytest.mark.parametrize("accept", ["application/xml", "image/*", "text/csv"])
def test_reads_refuse_an_accept_header_that_excludes_json(
    owner: User, tenant: Tenant, accept: str
) -> None:
    response = client_for(owner, tenant).get("/api/v1/auth/me/", HTTP_ACCEPT=accept)

    assert response.status_code == 406


def test_a_days_query_string_is_checked_every_time_it_is_wrong(
    owner: User, tenant: Tenant, doctor: Doctor
) -> None:
    client = client_for(owner, tenant)
    url = f"/api/v1/doctors/{doctor.pk}/day/"

    for _ in range(2):
        refused = client.get(url, {"date": "2027-02-30"})
        assert refused.status_code == 400
        assert "date" in refused.json()
        assert client.get(url, {"date": "3000-01-01"}).status_code == 400
    for _ in range(2):
        assert client.get(url, {"date": "2027-01-04"}).json()["date"] == "2027-01-04"
        assert client.get(url, {"date": ""}).status_code == 200  # empty: today, as before


def test_a_kept_row_is_handed_out_as_a_copy_of_its_own() -> None:
    kept: ShortLived[Doctor] = ShortLived("test doctors")
    branch = Branch(pk=7, name="Main")
    row = Doctor(pk=3, name="Dr. Kept", branch=branch)

    first = kept.get("k", lambda: row)
    assert first is not None
    first.name = "Changed by a request"
    first.note_for_this_request = "x"  # type: ignore[attr-defined]
    second = kept.get("k", lambda: None)

    assert second is not None
    assert second is not first
    assert (second.name, second.pk) == ("Dr. Kept", 3)
    assert not hasattr(second, "note_for_this_request")
    assert second.branch is branch  # the related row loaded with it, without a query
    second._state.fields_cache.clear()
    assert first._state.fields_cache["branch"] is branch


def test_a_shared_value_is_the_kept_value_itself() -> None:
    kept: ShortLived[Doctor] = ShortLived("test doctors")
    row = Doctor(pk=3, name="Dr. Kept")

    assert kept.shared("k", lambda: row) is row
    assert kept.shared("k", lambda: None) is row
    assert kept.get("k", lambda: None) is not row


def test_a_kept_token_is_handed_out_itself_and_its_user_as_each_requests_own(
    owner: User, tenant: Tenant
) -> None:
    with schema_context(tenant.schema_name):
        key = tokens.mint(owner)
        header = {"HTTP_AUTHORIZATION": f"Token {key}"}
        authenticator = StaffTokenAuthentication()

        first = authenticator.authenticate(Request(RequestFactory().get("/", **header)))
        second = authenticator.authenticate(Request(RequestFactory().get("/", **header)))
        assert first is not None and second is not None
        (user, token), (other_user, other_token) = first, second
        user.name = "Changed by one request"
        user.note_for_this_request = "x"  # type: ignore[attr-defined]

    assert other_token is token  # read only: not copied for each request
    assert other_user is not user
    assert (other_user.pk, other_user.name) == (owner.pk, owner.name)
    assert not hasattr(other_user, "note_for_this_request")
    assert token.user.name == owner.name
