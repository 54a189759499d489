"""With Redis unreachable (the cache and the Celery broker at a loopback port where nothing
listens), PostgreSQL is the only dependency of a write: it commits and is acknowledged, its
wake-ups fail quietly, lock-outs and throttles count in the process's memory and the read
models are read from PostgreSQL. The same outage on real processes is tests/faults/."""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from kombu.exceptions import OperationalError

from apps.billing.models import Payment
from apps.clinic.models import Branch, User
from apps.core.counters import counting_cache
from apps.eventstore.projections import catch_up
from apps.eventstore.tasks import PENDING_KEY, request_projection_run
from apps.scheduling import commands
from apps.scheduling.models import Appointment
from apps.tenants.models import Tenant
from apps.tenants.verification import signup_allowed
from mymedic.celery import app
from tests.clock import ist
from tests.conftest import OWNER_PASSWORD, HostClient, client_for
from tests.scheduling.factories import DoctorFactory, PatientFactory
from tests.servers import free_port


def _reset_broker_connections() -> None:
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_unreachable() -> Iterator[None]:
    real = app.conf.broker_write_url
    app.conf.broker_write_url = f"redis://127.0.0.1:{free_port()}/1"
    _reset_broker_connections()
    try:
        yield
    finally:
        app.conf.broker_write_url = real
        _reset_broker_connections()


@pytest.fixture
def redis_unreachable(settings: Any, broker_unreachable: None) -> Iterator[None]:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": dead,
                    "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}},
    }  # fmt: skip
    counting_cache.local.clear()
    with pytest.raises(Exception, match="Connection refused|Error"):  # noqa: B017,PT011
        cache.get("probe")  # really unreachable
    yield
    counting_cache.local.clear()


@pytest.fixture(autouse=True)
def monday_morning() -> Iterator[None]:
    with time_machine.travel(ist(4, 8), tick=False):
        yield


def test_a_booking_and_a_payment_commit_and_answer_while_redis_is_unreachable(
    tenant: Tenant,
    owner: User,
    main_branch: Branch,
    redis_unreachable: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    doctor = DoctorFactory(branch=main_branch)
    patient = PatientFactory()
    desk = client_for(owner, tenant)

    with django_capture_on_commit_callbacks(execute=True) as wake_ups:
        booked = desk.post("/api/v1/appointments/", {
            "doctor": doctor.pk, "patient": patient.pk, "start": ist(5, 10).isoformat(),
        }, format="json")  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        paid = desk.post(
            f"/api/v1/appointments/{booked.json()['id']}/payments/",
            {"kind": "deposit", "amount": "100.00", "method": "cash"},
            format="json",
        )

    assert booked.status_code == 201 and paid.status_code == 201
    assert wake_ups  # the projection wake-up ran, failed and stayed out of the answer
    assert Appointment.objects.filter(pk=booked.json()["id"]).count() == 1
    assert Payment.objects.get(pk=paid.json()["id"]).amount == Decimal("100.00")


def test_a_run_the_broker_cannot_take_leaves_no_pending_flag_behind(
    tenant: Tenant, broker_unreachable: None
) -> None:
    with pytest.raises(OperationalError):
        from apps.eventstore.tasks import run_projections

        run_projections.delay()  # the broker really refuses

    request_projection_run()

    assert cache.get(PENDING_KEY) is None  # the next change asks again


def test_the_board_is_read_from_postgresql_while_redis_is_unreachable(
    tenant: Tenant, owner: User, main_branch: Branch, settings: Any
) -> None:
    doctor = DoctorFactory(branch=main_branch)
    made = commands.appointment_book(
        actor=None, doctor=doctor, patient=PatientFactory(), start=ist(4, 10)
    )
    catch_up()
    desk = client_for(owner, tenant)
    url = f"/api/v1/branches/{main_branch.pk}/board/?date=2027-01-04"
    assert desk.get(url).status_code == 200  # now cached in Redis

    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}"}
    }
    board = desk.get(url)

    assert board.status_code == 200
    assert [row["id"] for row in board.json()["appointments"]] == [made.pk]


def test_sign_in_still_locks_an_account_while_redis_is_unreachable(
    api: HostClient, owner: User, settings: Any, redis_unreachable: None
) -> None:
    settings.MYMEDIC_LOGIN_FAILURE_LIMIT = 3
    body = {"username": owner.email, "password": "wrong-password"}
    wrong = [api.post("/api/v1/auth/token/", body, format="json") for _ in range(3)]

    right = api.post(
        "/api/v1/auth/token/", {"username": owner.email, "password": OWNER_PASSWORD}, format="json"
    )

    assert [answer.status_code for answer in wrong] == [400] * 3
    assert right.status_code == 429  # counted in this process's memory meanwhile


def test_the_api_throttle_still_limits_while_redis_is_unreachable(
    public_api: HostClient, settings: Any, redis_unreachable: None
) -> None:
    settings.MYMEDIC_API_ANON_RATE = "2/min"

    answers = [public_api.post("/api/v1/onboarding/", {}, format="json") for _ in range(3)]

    assert [answer.status_code for answer in answers] == [400, 400, 429]


def test_the_sign_up_limit_still_counts_while_redis_is_unreachable(
    db: None, settings: Any, redis_unreachable: None
) -> None:
    settings.MYMEDIC_SIGNUPS_PER_ADDRESS_HOUR = 1

    first = signup_allowed("10.9.0.1", "a@one.example")
    second = signup_allowed("10.9.0.1", "b@two.example")

    assert (first, second) == (True, False)


def test_staff_sign_in_to_the_console_and_its_session_work_while_redis_is_unreachable(
    api: HostClient, owner: User, main_branch: Branch, redis_unreachable: None
) -> None:
    signed_in = api.post("/login/", {"username": owner.email, "password": OWNER_PASSWORD})
    board = api.get(f"/reception/branches/{main_branch.pk}/")

    assert signed_in.status_code == 302
    assert board.status_code == 200  # the session (in PostgreSQL) carries the sign-in
