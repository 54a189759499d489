"""Real-provider backends: HTTPS JSON (against a local HTTP server) and Django email."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from django.core import mail

from apps.notifications.backends import DeliveryError, DjangoEmailBackend, HttpJsonBackend, Message

MESSAGE = Message(channel="sms", to="+919800000001", body="Hello", key="appointment-1:x:v1")


class Provider(BaseHTTPRequestHandler):
    answer: ClassVar[int] = 200
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:  # noqa: N802  (the handler's name is fixed)
        length = int(self.headers["Content-Length"])
        type(self).received.append(
            {"body": json.loads(self.rfile.read(length)), "headers": dict(self.headers)}
        )
        payload = json.dumps({"id": "prov-1"}).encode()
        self.send_response(type(self).answer)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass  # quiet: the suite's log scan would see the request lines


@pytest.fixture
def provider() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Provider)
    Provider.answer, Provider.received = 200, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/send"
    finally:
        server.shutdown()
        server.server_close()


def test_the_json_provider_gets_the_message_with_its_key_and_token(provider: str) -> None:
    provider_id = HttpJsonBackend(url=provider, token="secret-token").send(MESSAGE)

    [request] = Provider.received
    assert provider_id == "prov-1"
    assert request["body"]["to"] == "+919800000001" and request["body"]["key"] == MESSAGE.key
    assert request["headers"]["Authorization"] == "Bearer secret-token"
    assert request["headers"]["Idempotency-Key"] == MESSAGE.key


@pytest.mark.parametrize(
    ("status", "permanent"), [(400, True), (422, True), (429, False), (503, False)]
)
def test_a_4xx_is_permanent_and_the_rest_may_succeed_later(
    provider: str, status: int, permanent: bool
) -> None:
    Provider.answer = status

    with pytest.raises(DeliveryError) as failure:
        HttpJsonBackend(url=provider).send(MESSAGE)

    assert failure.value.permanent is permanent


def test_an_unreachable_provider_is_a_transient_failure() -> None:
    with pytest.raises(DeliveryError) as failure:
        HttpJsonBackend(url="http://127.0.0.1:9/send", timeout=2).send(MESSAGE)

    assert failure.value.permanent is False


def test_email_goes_through_djangos_mail_framework(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    email = Message(
        channel="email", to="a@example.com", body="Hi", subject="Booked", key="appointment-2:y"
    )

    provider_id = DjangoEmailBackend(from_email="clinic@example.com").send(email)

    [sent] = mail.outbox
    assert (sent.subject, sent.body, sent.to, sent.from_email) == (
        "Booked",
        "Hi",
        ["a@example.com"],
        "clinic@example.com",
    )
    assert sent.extra_headers["X-MyMedic-Key"] == "appointment-2:y"
    assert sent.extra_headers["Message-ID"] == provider_id
