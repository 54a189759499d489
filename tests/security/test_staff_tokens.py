"""Staff API tokens: stored as digests, shown once, expiring (idle and absolute), revoked on
sign-out and with every password change or reset, and the password commands behind them."""

import hashlib
import importlib
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.clinic.commands import staff_password_reset
from apps.clinic.models import Branch, Role, StaffToken, User
from apps.core.errors import Conflict, PermissionDenied
from tests.clinic.factories import STAFF_PASSWORD, UserFactory
from tests.conftest import OWNER_PASSWORD, HostClient, with_token

NEW_PASSWORD = "a-fresh-passphrase-42"


def sign_in(api: HostClient, email: str, password: str) -> str:
    response = api.post(
        "/api/v1/auth/token/", {"username": email, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"token", "role"}  # the contract's fields, unchanged
    return str(response.json()["token"])


@pytest.fixture
def desk(main_branch: Branch) -> User:
    return UserFactory(
        email="desk@acme.example.com", role=Role.RECEPTIONIST, branches=[main_branch]
    )


def test_a_token_is_stored_only_as_its_digest(api: HostClient, owner: User) -> None:
    key = sign_in(api, owner.email, OWNER_PASSWORD)

    row = StaffToken.objects.get(user=owner)
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM clinic_stafftoken")
        stored = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)
    assert key not in repr(stored)


def test_each_sign_in_gets_its_own_token(api: HostClient, owner: User) -> None:
    first = sign_in(api, owner.email, OWNER_PASSWORD)
    second = sign_in(api, owner.email, OWNER_PASSWORD)

    assert first != second
    assert StaffToken.objects.filter(user=owner).count() == 2


def test_an_unused_token_expires_after_the_idle_hours(
    api: HostClient, owner: User, settings: Any
) -> None:
    settings.MYMEDIC_TOKEN_IDLE_HOURS = 8
    host = api.defaults["HTTP_HOST"]
    with time_machine.travel(timezone.now(), tick=False) as clock:
        key = sign_in(api, owner.email, OWNER_PASSWORD)
        clock.shift(timedelta(hours=7))
        assert with_token(host, key).get("/api/v1/auth/me/").status_code == 200  # slides on
        clock.shift(timedelta(hours=7))
        assert with_token(host, key).get("/api/v1/auth/me/").status_code == 200
        clock.shift(timedelta(hours=8, minutes=1))

        assert with_token(host, key).get("/api/v1/auth/me/").status_code == 401


def test_a_token_in_daily_use_still_ends_at_the_absolute_limit(
    api: HostClient, owner: User, settings: Any
) -> None:
    settings.MYMEDIC_TOKEN_IDLE_HOURS = 24
    settings.MYMEDIC_TOKEN_MAX_DAYS = 3
    host = api.defaults["HTTP_HOST"]
    with time_machine.travel(timezone.now(), tick=False) as clock:
        key = sign_in(api, owner.email, OWNER_PASSWORD)
        for _ in range(2):
            clock.shift(timedelta(hours=20))
            assert with_token(host, key).get("/api/v1/auth/me/").status_code == 200
        clock.shift(timedelta(hours=33))

        assert with_token(host, key).get("/api/v1/auth/me/").status_code == 401


def test_sign_out_revokes_the_token(api: HostClient, owner: User) -> None:
    key = sign_in(api, owner.email, OWNER_PASSWORD)
    other = sign_in(api, owner.email, OWNER_PASSWORD)
    client = with_token(api.defaults["HTTP_HOST"], key)

    assert client.post("/api/v1/auth/logout/").status_code == 204

    assert client.get("/api/v1/auth/me/").status_code == 401
    assert with_token(api.defaults["HTTP_HOST"], other).get("/api/v1/auth/me/").status_code == 200
    assert AuditEntry.objects.filter(action="logout.token", actor_id=owner.pk).exists()


def test_a_receptionist_changes_their_password_and_every_token_dies(
    api: HostClient, desk: User
) -> None:
    host = api.defaults["HTTP_HOST"]
    phone, laptop = (
        sign_in(api, desk.email, STAFF_PASSWORD),
        sign_in(api, desk.email, STAFF_PASSWORD),
    )

    response = with_token(host, phone).post(
        "/api/v1/auth/password/",
        {"old_password": STAFF_PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )

    assert response.status_code == 204
    assert with_token(host, phone).get("/api/v1/auth/me/").status_code == 401
    assert with_token(host, laptop).get("/api/v1/auth/me/").status_code == 401
    sign_in(api, desk.email, NEW_PASSWORD)
    old = api.post(
        "/api/v1/auth/token/", {"username": desk.email, "password": STAFF_PASSWORD}, format="json"
    )
    assert old.status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"old_password": "not-it", "new_password": NEW_PASSWORD}, "old_password"),
        ({"old_password": STAFF_PASSWORD, "new_password": "short"}, "new_password"),
        ({"old_password": STAFF_PASSWORD, "new_password": STAFF_PASSWORD}, "new_password"),
        ({"old_password": STAFF_PASSWORD}, "new_password"),
    ],
)
def test_a_refused_password_change_names_the_field_and_changes_nothing(
    api: HostClient, desk: User, body: dict[str, str], field: str
) -> None:
    key = sign_in(api, desk.email, STAFF_PASSWORD)
    client = with_token(api.defaults["HTTP_HOST"], key)

    response = client.post("/api/v1/auth/password/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert client.get("/api/v1/auth/me/").status_code == 200


def test_a_password_change_ends_the_other_web_sessions(api: HostClient, desk: User) -> None:
    host = api.defaults["HTTP_HOST"]
    here, elsewhere = HostClient(host), HostClient(host)
    for browser in (here, elsewhere):
        browser.post("/login/", {"username": desk.email, "password": STAFF_PASSWORD})
        assert browser.get("/reception/").status_code in (200, 302)

    page = here.post(
        "/account/password/",
        {
            "old_password": STAFF_PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )

    assert page.status_code == 302
    assert here.get("/account/password/").status_code == 200  # this browser stays signed in
    assert elsewhere.get("/account/password/").status_code == 302  # the other one is out


def test_the_console_page_shows_each_error_next_to_its_field(api: HostClient, desk: User) -> None:
    browser = HostClient(api.defaults["HTTP_HOST"])
    browser.post("/login/", {"username": desk.email, "password": STAFF_PASSWORD})

    page = browser.post(
        "/account/password/",
        {
            "old_password": "not-it",
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD + "x",
        },
    )

    html = page.content.decode()
    assert page.status_code == 200
    assert "The two new passwords differ." in html
    page = browser.post(
        "/account/password/",
        {
            "old_password": "not-it",
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert page.context["form"].errors == {
        "old_password": ["Your current password is not correct."]
    }


def test_a_manager_resets_a_password_and_ends_that_members_tokens_and_sessions(
    api: HostClient, desk: User
) -> None:
    host = api.defaults["HTTP_HOST"]
    key = sign_in(api, desk.email, STAFF_PASSWORD)
    browser = HostClient(host)
    browser.post("/login/", {"username": desk.email, "password": STAFF_PASSWORD})
    manager = UserFactory(role=Role.MANAGER)

    staff_password_reset(actor=manager, user=desk, new_password=NEW_PASSWORD)

    assert with_token(host, key).get("/api/v1/auth/me/").status_code == 401
    assert browser.get("/account/password/").status_code == 302
    sign_in(api, desk.email, NEW_PASSWORD)
    entry = AuditEntry.objects.get(action="staff.password_reset")
    assert (entry.actor_id, entry.target) == (manager.pk, f"user:{desk.pk}")


def test_only_owners_and_managers_reset_and_nobody_resets_the_owners(
    owner: User, desk: User
) -> None:
    manager = UserFactory(role=Role.MANAGER)

    with pytest.raises(PermissionDenied):
        staff_password_reset(actor=desk, user=manager, new_password=NEW_PASSWORD)
    with pytest.raises(Conflict):
        staff_password_reset(actor=manager, user=owner, new_password=NEW_PASSWORD)


def test_the_admin_resets_a_password_from_the_staff_page(
    api: HostClient, owner: User, desk: User
) -> None:
    admin = HostClient(api.defaults["HTTP_HOST"])
    admin.force_login(owner)
    url = f"/admin/clinic/user/{desk.pk}/password/"
    assert url in admin.get(f"/admin/clinic/user/{desk.pk}/change/").content.decode()

    weak = admin.post(url, {"new_password": "short"})
    done = admin.post(url, {"new_password": NEW_PASSWORD})

    assert weak.status_code == 200 and "too short" in weak.content.decode()
    assert done.status_code == 302
    sign_in(api, desk.email, NEW_PASSWORD)


def test_the_migration_keeps_existing_tokens_working_but_only_as_digests(
    api: HostClient, owner: User
) -> None:
    from django.apps import apps as django_apps
    from rest_framework.authtoken.models import Token

    migration = importlib.import_module("apps.clinic.migrations.0003_stafftoken")
    old = Token.objects.create(user=owner)

    with connection.schema_editor() as editor:
        migration.digest_existing_tokens(django_apps, editor)

    assert not Token.objects.exists()
    carried = StaffToken.objects.get(user=owner)
    assert carried.key_hash == hashlib.sha256(old.key.encode()).hexdigest()
    assert with_token(api.defaults["HTTP_HOST"], old.key).get("/api/v1/auth/me/").status_code == 200


def test_the_admins_change_password_link_leads_to_the_staff_password_page(
    api: HostClient, owner: User
) -> None:
    api.force_login(owner)

    response = api.get("/admin/password_change/")

    assert response.status_code == 302
    assert response["Location"] == "/account/password/"
