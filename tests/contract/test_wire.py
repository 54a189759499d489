"""What the real web server (daphne) answers on the wire where the OpenAPI document says so:
errors as JSON even when the body is one the HTTP layer could have refused by itself."""

import http.client
import json
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


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with servers.asgi_server() as port:
        yield port


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
