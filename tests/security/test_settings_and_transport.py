"""Production never starts with local defaults; bodies over the cap are refused before they
are read; staff sessions are short and their cookies SameSite."""

import asyncio
import base64
import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler

from apps.clinic.models import User
from mymedic.bodylimit import BodyLimitMiddleware
from tests.conftest import OWNER_PASSWORD, HostClient

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "MYMEDIC_SECRET_KEY": secrets.token_urlsafe(50),
    "MYMEDIC_MASTER_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    "MYMEDIC_AUDIT_ANCHOR_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    "MYMEDIC_NOTIFY_SMS_URL": "https://sms.example.com/send",
    "MYMEDIC_KEYSTORE_DIR": "/srv/mymedic/keystore",
}


def import_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import mymedic.settings"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, ["MYMEDIC_SECRET_KEY", "MYMEDIC_MASTER_KEY", "MYMEDIC_NOTIFY_SMS_URL"]),
        ({**SECRETS, "MYMEDIC_DEBUG": "true"}, ["MYMEDIC_DEBUG"]),
        (
            {**SECRETS, "MYMEDIC_SECRET_KEY": "local-development-only-not-a-secret"},
            ["MYMEDIC_SECRET_KEY"],
        ),
        ({**SECRETS, "MYMEDIC_MASTER_KEY": ""}, ["MYMEDIC_MASTER_KEY"]),
        ({**SECRETS, "MYMEDIC_AUDIT_ANCHOR_KEY": ""}, ["MYMEDIC_AUDIT_ANCHOR_KEY"]),
        ({**SECRETS, "MYMEDIC_NOTIFY_SMS_URL": ""}, ["MYMEDIC_NOTIFY_SMS_URL"]),
        ({**SECRETS, "MYMEDIC_KEYSTORE_DIR": ""}, ["MYMEDIC_KEYSTORE_DIR"]),
        ({**SECRETS, "MYMEDIC_ENV": "staging", "MYMEDIC_DEBUG": "1"}, ["MYMEDIC_DEBUG"]),
    ],
)
def test_settings_refuse_local_defaults_unless_local_is_said(
    env: dict[str, str], named: list[str]
) -> None:
    result = import_settings(env)

    assert result.returncode != 0
    assert "Refusing to start with local defaults" in result.stderr
    for name in named:
        assert name in result.stderr


def test_settings_start_with_real_secrets_or_when_local_is_said() -> None:
    assert import_settings(SECRETS).returncode == 0
    assert import_settings({"MYMEDIC_ENV": "local"}).returncode == 0


def test_make_and_ci_say_local_explicitly() -> None:
    script = (ROOT / "scripts" / "local.sh").read_text()

    assert "export MYMEDIC_ENV=local" in script
    assert 'echo "export MYMEDIC_ENV=local"' in script  # in env.sh, for direct pytest runs


def asgi_call(path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """Runs one HTTP request through the project's ASGI application; what it sent back."""
    sent: list[dict[str, Any]] = []
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    reads = {"count": 0}

    async def receive() -> dict[str, Any]:
        reads["count"] += 1
        if pending:
            return pending.pop(0)
        await asyncio.sleep(3600)  # a client that stopped sending
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"acme.localhost"), *headers],
        "client": ("203.0.113.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    # mymedic/asgi.py wraps Django the same way (and test_browser_and_server.py runs it in
    # daphne); importing it here would set Django up a second time, resetting the logging.
    application = BodyLimitMiddleware(ASGIHandler())
    asyncio.run(asyncio.wait_for(application(scope, receive, send), timeout=30))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    starts = sum(m["type"] == "http.response.start" for m in sent)
    return {
        "status": start["status"],
        "headers": dict(start["headers"]),
        "body": body,
        "reads": reads["count"],
        "starts": starts,
    }


def test_a_declared_oversized_body_is_refused_before_it_is_read(settings: Any) -> None:
    settings.MYMEDIC_MAX_BODY_BYTES = 1000
    result = asgi_call("/api/v1/auth/token/", [b"x" * 10], [(b"content-length", b"5000000000")])

    assert result["status"] == 413
    assert result["reads"] == 0
    assert result["headers"][b"content-type"] == b"application/json"
    assert "too large" in json.loads(result["body"])["detail"]


def test_a_streamed_body_is_refused_when_it_crosses_the_cap(settings: Any) -> None:
    settings.MYMEDIC_MAX_BODY_BYTES = 1000
    result = asgi_call("/api/v1/auth/token/", [b"x" * 600] * 10, [])

    assert result["status"] == 413
    assert result["reads"] == 2  # stopped at the chunk that crossed the cap
    assert result["starts"] == 1  # Django, cut off, answered nothing of its own


def test_pages_get_an_html_413(settings: Any) -> None:
    settings.MYMEDIC_MAX_BODY_BYTES = 100
    result = asgi_call("/login/", [b"x" * 10], [(b"content-length", b"1000")])

    assert result["status"] == 413
    assert result["headers"][b"content-type"].startswith(b"text/html")


def test_the_settlement_upload_has_its_larger_cap(settings: Any) -> None:
    settings.MYMEDIC_MAX_BODY_BYTES = 100
    settings.MYMEDIC_MAX_UPLOAD_BYTES = 10_000
    from mymedic.bodylimit import body_cap

    assert body_cap("/api/v1/reconciliation/settlements/") == 10_000
    assert body_cap("/api/v1/appointments/") == 100
    big = asgi_call("/api/v1/reconciliation/settlements/", [b"x"], [(b"content-length", b"20000")])
    assert big["status"] == 413


def test_staff_sessions_idle_out_after_eight_hours_with_samesite_cookies(
    api: HostClient, owner: User, settings: Any
) -> None:
    response = api.post("/login/", {"username": owner.email, "password": OWNER_PASSWORD})
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]

    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    # Idle, not absolute: the idle limit is enforced by the middleware from the session's last
    # refresh (tests/core/test_sessions.py), without a write on every request.
    assert settings.SESSION_SAVE_EVERY_REQUEST is False
    assert settings.SESSION_ENGINE == "apps.core.sessions"
    middleware = settings.MIDDLEWARE
    sessions = middleware.index("apps.core.consoleonly.ConsoleSessionMiddleware")
    assert middleware[sessions + 1] == "apps.core.sessions.IdleSessionMiddleware"
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert cookie["samesite"] == "Lax"
    assert cookie["httponly"] is True
    assert settings.CSRF_COOKIE_SAMESITE == "Lax"


def test_drf_parses_no_json_past_the_upload_limit(api: HostClient, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"username": "x" * 5000, "password": "y"})

    response = api.post("/api/v1/auth/token/", body, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large."}


def test_every_page_carries_a_content_security_policy_without_inline_script(
    api: HostClient,
) -> None:
    policy = api.get("/login/")["Content-Security-Policy"]

    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "'unsafe-inline'" not in directives["default-src"]
