"""Staff web sessions (apps/core/sessions.py): read without PostgreSQL, refreshed at most once
a minute, ended after the idle limit, revoked at once on sign-out and within a second when the
member changes elsewhere; confirmations naming patients never reach Redis."""

import time
from collections.abc import Iterator

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.backends.cached_db import KEY_PREFIX
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.clinic.models import Branch, Role, User
from apps.core.sessions import REFRESH_EVERY_SECONDS
from apps.core.shortlived import SECONDS
from apps.tenants.models import Tenant
from tests.clinic.factories import UserFactory
from tests.clock import ist
from tests.conftest import HostClient
from tests.reception.test_console import sign_in
from tests.scheduling.factories import DoctorFactory, PatientFactory

ELSEWHERE_WAIT = SECONDS + 0.1
IDLE_LIMIT = 8 * 3600


@pytest.fixture
def desk(main_branch: Branch) -> User:
    return UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])


@pytest.fixture
def frozen() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(ist(4, 8), tick=False) as traveller:
        yield traveller


def _browser(tenant: Tenant) -> HostClient:
    return HostClient(f"{tenant.slug}.localhost")


def _session_statements(client: HostClient, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        status = client.get(url).status_code
    return status, [q["sql"] for q in queries if "django_session" in q["sql"]]


def test_a_session_in_use_is_written_at_most_once_a_minute(
    tenant: Tenant, desk: User, main_branch: Branch, frozen: time_machine.Coordinates
) -> None:
    browser = sign_in(_browser(tenant), desk.email)
    board = f"/reception/branches/{main_branch.pk}/"
    assert browser.get(board).status_code == 200

    frozen.shift(REFRESH_EVERY_SECONDS - 10)
    assert _session_statements(browser, board) == (200, [])

    frozen.shift(20)
    status, statements = _session_statements(browser, board)
    assert status == 200
    assert [sql.split()[0] for sql in statements] == ["UPDATE"]


def test_a_session_idle_past_the_limit_is_signed_out_and_one_in_use_is_not(
    tenant: Tenant, desk: User, main_branch: Branch, frozen: time_machine.Coordinates
) -> None:
    assert settings.SESSION_COOKIE_AGE == IDLE_LIMIT
    board = f"/reception/branches/{main_branch.pk}/"
    idle = sign_in(_browser(tenant), desk.email)
    busy = sign_in(_browser(tenant), desk.email)
    idle_key = idle.cookies[settings.SESSION_COOKIE_NAME].value

    for _ in range(5):  # ten hours of work, a page every two hours
        frozen.shift(2 * 3600)
        assert busy.get(board).status_code == 200

    response = idle.get(board)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert not Session.objects.filter(session_key=idle_key).exists()
    assert busy.get(board).status_code == 200


def test_a_session_is_not_signed_out_just_before_the_idle_limit(
    tenant: Tenant, desk: User, main_branch: Branch, frozen: time_machine.Coordinates
) -> None:
    browser = sign_in(_browser(tenant), desk.email)
    board = f"/reception/branches/{main_branch.pk}/"
    assert browser.get(board).status_code == 200

    frozen.shift(IDLE_LIMIT - REFRESH_EVERY_SECONDS - 1)
    assert browser.get(board).status_code == 200
    frozen.shift(IDLE_LIMIT - 1)
    assert browser.get(board).status_code == 200


def test_a_signed_out_session_is_refused_at_once_wherever_its_cookie_is_shown(
    tenant: Tenant, desk: User, main_branch: Branch
) -> None:
    browser = sign_in(_browser(tenant), desk.email)
    stolen = _browser(tenant)
    stolen.cookies[settings.SESSION_COOKIE_NAME] = browser.cookies[
        settings.SESSION_COOKIE_NAME
    ].value
    board = f"/reception/branches/{main_branch.pk}/"
    assert stolen.get(board).status_code == 200  # the copy in Redis is warm

    assert browser.post("/logout/").status_code == 302

    assert stolen.get(board).status_code == 302


def test_a_member_deactivated_elsewhere_is_signed_out_within_a_second(
    tenant: Tenant, desk: User, main_branch: Branch
) -> None:
    browser = sign_in(_browser(tenant), desk.email)
    board = f"/reception/branches/{main_branch.pk}/"
    assert browser.get(board).status_code == 200
    with connection.cursor() as cursor:  # as another process would: no signal reaches us
        cursor.execute("UPDATE clinic_user SET is_active = false WHERE id = %s", [desk.pk])

    time.sleep(ELSEWHERE_WAIT)

    assert browser.get(board).status_code == 302


def test_a_password_changed_elsewhere_signs_the_session_out_within_a_second(
    tenant: Tenant, desk: User, main_branch: Branch
) -> None:
    browser = sign_in(_browser(tenant), desk.email)
    board = f"/reception/branches/{main_branch.pk}/"
    assert browser.get(board).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE clinic_user SET password = 'md5$other$0000' WHERE id = %s", [desk.pk]
        )

    time.sleep(ELSEWHERE_WAIT)

    assert browser.get(board).status_code == 302


def test_a_session_holding_confirmations_is_kept_out_of_redis(
    tenant: Tenant, desk: User, main_branch: Branch, frozen: time_machine.Coordinates
) -> None:
    doctor = DoctorFactory(branch=main_branch)
    patient = PatientFactory(name="Meera Krishnan")
    browser = sign_in(_browser(tenant), desk.email)

    booked = browser.post(
        f"/reception/branches/{main_branch.pk}/book/",
        {"patient": patient.pk, "doctor": doctor.pk, "start": ist(5, 10).isoformat()},
    )
    assert booked.status_code == 302
    key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    assert cache.get(KEY_PREFIX + key) is None  # the confirmation names the patient

    board = browser.get(booked["Location"]).content.decode()

    assert "Meera Krishnan" in board
    shown = cache.get(KEY_PREFIX + key)
    assert shown is not None
    assert "_messages" not in shown
    assert "Meera Krishnan" not in repr(shown)
