"""What the real web server (daphne) answers on the wire where the OpenAPI document says so:
errors as JSON even when the body is one the HTTP layer could have refused by itself."""

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from apps.tenants.models import Tenant
from tests import servers
from tests.contract.seed import Clinic, seed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clinic(committed_tenant: Tenant, django_db_blocker: Any) -> Clinic:
    with django_db_blocker.unblock():
        return seed(committed_tenant)


@pytest.fixture(scope="module", params=["daphne", "nginx-gunicorn"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    """Both shapes answer by the contract: daphne (tests, `runserver`) and the Procfile's
    nginx in front of gunicorn's uvicorn workers."""
    if request.param == "daphne":
        with servers.asgi_server() as port:
            yield port
    else:
        with servers.proxied_server(workers=1) as proxied:
            yield proxied.port


def post(port: int, clinic: Clinic, path: str, body: bytes, content_type: str) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers={
            "Host": f"{clinic.tenant.replace('_', '-')}.localhost",
            "Authorization": f"Token {clinic.token('owner')}",
            "Content-Type": content_type,
        })  # fmt: skip
        answer = connection.getresponse()
        return answer.status, answer.getheader("Content-Type"), answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"", "multipart/form-data"),
        (b"date,branch\r\n", "multipart/form-data"),
        (b"--xyz\r\nnot a part\r\n", "multipart/form-data; boundary=xyz"),
    ],
)
def test_a_settlement_upload_that_is_no_multipart_body_is_a_json_400(
    port: int, clinic: Clinic, django_db_blocker: Any, body: bytes, content_type: str
) -> None:
    with django_db_blocker.unblock():
        status, answered_type, text = post(
            port, clinic, "/api/v1/reconciliation/settlements/", body, content_type
        )
    assert (status, answered_type) == (400, "application/json")
    problem = json.loads(text)
    assert set(problem) & {"file", "detail"}, problem


def raw_request(port: int, head: bytes) -> bytes:
    """What the server answers to a request written byte for byte (no client library sends
    a vertical tab in a header; daphne refuses it before the application sees it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


@pytest.fixture(scope="module")
def daphne_port() -> Iterator[int]:
    with servers.asgi_server() as port:
        yield port


def test_a_header_with_a_control_character_is_a_json_400_under_the_api_on_daphne(
    daphne_port: int, clinic: Clinic
) -> None:
    """daphne only: behind nginx, uvicorn's HTTP parser refuses such a header itself with a
    plain-text 400 before any application code runs (docs/API.md, v1.3)."""
    port = daphne_port
    host = f"{clinic.tenant.replace('_', '-')}.localhost".encode()
    for path, content_type in (
        (b"/api/v1/auth/me/", b"application/json"),
        (b"/login/", b"text/html"),
    ):
        answer = raw_request(
            port, b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\nX-Note: a\x0bb\r\n"
            b"Connection: close\r\n\r\n",
        )  # fmt: skip
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), head
        assert b"content-type: " + content_type in head.lower(), head
        if content_type == b"application/json":
            assert json.loads(body) == {"detail": "Invalid header value"}
