"""One sign-in lock-out on every door: web /login/, /admin/login/, the token API and the
patient app's code sign-in. Per account a lock, per address a (larger) throttle, and guessing
unknown names never locks a real account."""

import re
from typing import Any

import pytest

from apps.clinic.models import Role, User
from apps.notifications.backends import FileBackend
from apps.scheduling.models import Patient
from tests.clinic.factories import STAFF_PASSWORD, UserFactory
from tests.conftest import OWNER_PASSWORD, HostClient, token_sign_in

LOCKED = "Too many failed sign-ins"


@pytest.fixture(autouse=True)
def small_limits(settings: Any) -> None:
    settings.MYMEDIC_LOGIN_FAILURE_LIMIT = 3
    settings.MYMEDIC_LOGIN_ADDRESS_LIMIT = 6


def admin_login(client: HostClient, email: str, password: str, ip: str = "10.1.0.1") -> Any:
    return client.post(
        "/admin/login/?next=/admin/", {"username": email, "password": password}, REMOTE_ADDR=ip
    )


def web_login(client: HostClient, email: str, password: str, ip: str = "10.1.0.1") -> Any:
    return client.post("/login/", {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_admin_login_locks_an_account_after_repeated_failures(api: HostClient, owner: User) -> None:
    for _ in range(3):
        assert admin_login(api, owner.email, "wrong-password").status_code == 200

    locked = admin_login(api, owner.email, OWNER_PASSWORD, ip="10.1.0.2")

    assert locked.status_code == 200  # the form again, not the admin
    assert LOCKED in locked.content.decode()
    assert "_auth_user_id" not in api.session


def test_one_lock_covers_every_door(api: HostClient, owner: User) -> None:
    for _ in range(3):
        assert token_sign_in(api, owner.email, "wrong-password").status_code == 400

    assert LOCKED in admin_login(api, owner.email, OWNER_PASSWORD, ip="10.1.0.9").content.decode()
    assert LOCKED in web_login(api, owner.email, OWNER_PASSWORD, ip="10.1.0.9").content.decode()
    assert token_sign_in(api, owner.email, OWNER_PASSWORD, ip="10.1.0.9").status_code == 429


def test_the_admin_login_failures_count_for_the_api_too(api: HostClient, owner: User) -> None:
    for _ in range(3):
        admin_login(api, owner.email, "wrong-password")

    assert token_sign_in(api, owner.email, OWNER_PASSWORD, ip="10.1.0.3").status_code == 429


def test_a_locked_account_does_not_lock_colleagues_behind_the_same_address(
    api: HostClient, owner: User, main_branch: object
) -> None:
    desk = UserFactory(
        email="desk@acme.example.com", role=Role.RECEPTIONIST, branches=[main_branch]
    )
    for _ in range(3):
        web_login(api, owner.email, "wrong-password", ip="203.0.113.7")

    assert token_sign_in(api, desk.email, STAFF_PASSWORD, ip="203.0.113.7").status_code == 200


def test_guessing_unknown_usernames_never_locks_a_real_account(
    api: HostClient, owner: User
) -> None:
    for n in range(5):  # below the address limit, above the account limit
        token_sign_in(api, f"nobody{n}@acme.example.com", "x", ip="198.51.100.1")
        token_sign_in(api, f"0wner{n}@acme.example.com", "x", ip="198.51.100.2")

    assert token_sign_in(api, owner.email, OWNER_PASSWORD, ip="198.51.100.3").status_code == 200


def test_an_address_is_throttled_after_its_own_larger_limit(api: HostClient, owner: User) -> None:
    for n in range(6):
        assert (
            token_sign_in(api, f"guess{n}@acme.example.com", "x", ip="192.0.2.9").status_code == 400
        )

    assert token_sign_in(api, owner.email, OWNER_PASSWORD, ip="192.0.2.9").status_code == 429
    assert token_sign_in(api, owner.email, OWNER_PASSWORD, ip="192.0.2.10").status_code == 200


def test_patient_code_sign_in_goes_through_the_same_lock(
    api: HostClient,
    patient: Patient,
    outbox: FileBackend,
    django_capture_on_commit_callbacks: Any,
    celery_in_process: None,
) -> None:
    phone = "9812345678"
    for _ in range(3):
        wrong = api.post(
            "/api/v1/patient/auth/token/", {"phone": phone, "code": "000000"}, format="json"
        )
        assert wrong.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        api.post("/api/v1/patient/auth/otp/", {"phone": phone}, format="json")
    code = re.findall(r"\d{6}", outbox.sent("sms")[-1]["body"])[0]

    locked = api.post("/api/v1/patient/auth/token/", {"phone": phone, "code": code}, format="json")

    assert locked.status_code == 429
    assert LOCKED in locked.json()["detail"]
