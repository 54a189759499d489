"""Sign-in lock-out, API throttling and the production settings."""

import base64
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from apps.clinic.models import User
from apps.tenants.models import Tenant
from tests.conftest import OWNER_PASSWORD, HostClient, client_for, token_sign_in

ROOT = Path(__file__).resolve().parents[2]


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    api: HostClient, owner: User, settings: Any
) -> None:
    settings.MYMEDIC_LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        assert token_sign_in(api, owner.email, "wrong-password").status_code == 400

    locked = token_sign_in(api, owner.email, OWNER_PASSWORD, ip="10.0.0.2")

    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.json()["detail"]
    assert int(locked["Retry-After"]) > 0
    web = api.post("/login/", {"username": owner.email, "password": OWNER_PASSWORD})
    assert web.status_code == 200 and "Too many failed sign-ins" in web.content.decode()


def test_one_address_trying_many_accounts_is_locked_out(
    api: HostClient, owner: User, settings: Any
) -> None:
    # The address has its own, larger limit (a clinic behind NAT shares one address).
    settings.MYMEDIC_LOGIN_ADDRESS_LIMIT = 3
    for n in range(3):
        token_sign_in(api, f"guess{n}@acme.example.com", "x", ip="10.9.9.9")

    assert token_sign_in(api, owner.email, OWNER_PASSWORD, ip="10.9.9.9").status_code == 429
    assert token_sign_in(api, owner.email, OWNER_PASSWORD, ip="10.9.9.8").status_code == 200


def test_a_success_clears_the_accounts_failures(
    api: HostClient, owner: User, settings: Any
) -> None:
    settings.MYMEDIC_LOGIN_FAILURE_LIMIT = 3
    token_sign_in(api, owner.email, "wrong", ip="10.0.0.3")
    token_sign_in(api, owner.email, "wrong", ip="10.0.0.4")
    assert token_sign_in(api, owner.email, OWNER_PASSWORD, ip="10.0.0.5").status_code == 200

    token_sign_in(api, owner.email, "wrong", ip="10.0.0.6")
    assert token_sign_in(api, owner.email, OWNER_PASSWORD, ip="10.0.0.7").status_code == 200


def test_the_api_throttles_each_user(owner: User, tenant: Tenant, settings: Any) -> None:
    settings.MYMEDIC_API_USER_RATE = "3/min"
    client = client_for(owner, tenant)

    codes = [client.get("/api/v1/branches/").status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]
    assert "Retry-After" in client.get("/api/v1/branches/")


def test_anonymous_callers_are_throttled_by_address(public_api: HostClient, settings: Any) -> None:
    settings.MYMEDIC_API_ANON_RATE = "2/min"

    codes = [
        public_api.post("/api/v1/onboarding/", {}, format="json").status_code for _ in range(3)
    ]

    assert codes == [400, 400, 429]


def test_forms_are_protected_against_csrf(owner: User) -> None:
    client = HostClient("acme.localhost", enforce_csrf_checks=True)

    response = client.post("/login/", {"username": owner.email, "password": OWNER_PASSWORD})

    assert response.status_code == 403


def production_env(**extra: str) -> dict[str, str]:
    """What a production process is given: fresh secrets and an SMS provider, and `extra`."""
    return {
        "PATH": "/usr/bin:/bin",
        "MYMEDIC_ENV": "production",
        "MYMEDIC_SECRET_KEY": secrets.token_urlsafe(50),
        "MYMEDIC_MASTER_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "MYMEDIC_AUDIT_ANCHOR_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "MYMEDIC_NOTIFY_SMS_URL": "https://sms.example.com/send",
        "MYMEDIC_KEYSTORE_DIR": "/srv/mymedic/keystore",
        **extra,
    }


def python(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Runs the project's Python with `args` in the checkout, with only `env`."""
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_production_settings_pass_the_deploy_check(tmp_path: Path) -> None:
    env = production_env(
        MYMEDIC_STATIC_ROOT=str(tmp_path), MYMEDIC_BASE_DOMAIN="mymedic.example.com"
    )
    result = python("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_its_secrets() -> None:
    result = python(
        "manage.py", "check", env={"PATH": "/usr/bin:/bin", "MYMEDIC_ENV": "production"}
    )

    assert result.returncode != 0
    assert "MYMEDIC_SECRET_KEY" in result.stderr


def test_production_does_not_install_the_bench_tools() -> None:
    script = "from django.conf import settings; print(sorted(settings.INSTALLED_APPS))"
    settings_module = {"DJANGO_SETTINGS_MODULE": "mymedic.settings"}
    production = python("-c", script, env=production_env(**settings_module))
    local = python(
        "-c", script, env={"PATH": "/usr/bin:/bin", "MYMEDIC_ENV": "local", **settings_module}
    )

    assert production.returncode == 0, production.stderr
    assert "apps.bench" not in production.stdout
    assert "apps.scheduling" in production.stdout
    assert "apps.bench" in local.stdout


def test_the_user_throttle_keeps_one_count_per_window_not_every_requests_time(
    owner: User, tenant: Tenant, settings: Any
) -> None:
    settings.MYMEDIC_API_USER_RATE = "50/min"
    client = client_for(owner, tenant)

    codes = [client.get("/api/v1/auth/me/").status_code for _ in range(51)]

    assert codes == [200] * 50 + [429]
    assert cache.get(f"throttle_user_{owner.pk}") == 51
    assert 0 < int(client.get("/api/v1/auth/me/")["Retry-After"]) <= 60
