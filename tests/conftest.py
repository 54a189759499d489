"""Fixtures shared by the whole suite.

Tenant schemas are made once per session (by the real onboarding command, cloning the
template schema); each test runs inside a transaction that is rolled back, so what a test
writes in a tenant's schema disappears with it.
"""

import json
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.forms.models import model_to_dict
from django_tenants.utils import schema_context
from psycopg import sql
from rest_framework.test import APIClient

from apps.clinic import tokens
from apps.clinic.models import Branch, User
from apps.core.shortlived import forget_all
from apps.core.throttling import user_counts
from apps.notifications.backends import CHANNELS, FileBackend
from apps.scheduling.models import Doctor, Patient
from apps.tenants import spares
from apps.tenants.commands import tenant_onboard
from apps.tenants.models import Tenant
from apps.tenants.schemas import ensure_template_schema
from tests import testdb
from tests.clock import ist
from tests.faults.stack import TIMINGS
from tests.isolation import runs_alone
from tests.scheduling.factories import DoctorFactory, PatientFactory

OWNER_PASSWORD = "correct-horse-battery-9"

# The suite travels in time (time-machine moves the monotonic clock too), which would expire
# a connection pool's timed waits in its worker threads; and each test runs in one rolled-back
# transaction on one connection anyway. Servers and workers that tests start keep the pool.
settings.DATABASES["default"].get("OPTIONS", {}).pop("pool", None)


class HostClient(APIClient):
    """A test client bound to one host; leaves the connection's schema as it found it."""

    def __init__(self, host: str, **defaults: Any) -> None:
        super().__init__(HTTP_HOST=host, **defaults)

    def request(self, **kwargs: Any) -> Any:
        previous = connection.tenant
        try:
            return super().request(**kwargs)
        finally:
            connection.set_tenant(previous)


def _onboard(slug: str, kind: str = "clinic") -> Tenant:
    existing = Tenant.objects.filter(slug=slug).first()
    if existing:
        return existing
    return tenant_onboard(
        verified=True,
        clinic_name=f"{slug.title()} Clinic",
        slug=slug,
        kind=kind,
        owner_name=f"{slug.title()} Owner",
        owner_email=f"owner@{slug}.example.com",
        owner_password=OWNER_PASSWORD,
    ).tenant


def _build_test_database() -> None:
    ensure_template_schema()
    # As upkeep does after migrating (apps.tenants.schemas.migrate_all): the template's recipe
    # stored, so a sign-up's top-up replays its spares (as in production) instead of migrating.
    spares.recipe()
    _onboard("acme", "chain")
    _onboard("globex")


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_modify_db_settings: None,
    django_db_keepdb: bool,
    django_db_createdb: bool,
) -> Iterator[dict[str, Tenant]]:
    """The session's database with the template schema and the tenants `acme` and `globex`:
    under xdist built once per run and copied for each worker (tests/testdb.py)."""
    with (
        django_db_blocker.unblock(),
        testdb.session_database(
            build=_build_test_database,
            keepdb=django_db_keepdb and not django_db_createdb,
            verbosity=request.config.option.verbose,
        ),
    ):
        yield {"acme": _onboard("acme", "chain"), "globex": _onboard("globex")}


@pytest.fixture(autouse=True, scope="session")
def test_warehouse(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The suite's warehouse lives in a temporary folder, never in the checkout's."""
    from django.conf import settings

    settings.MYMEDIC_WAREHOUSE_URL = f"chdb://{tmp_path_factory.mktemp('warehouse')}/warehouse"


@pytest.fixture
def celery_in_process() -> Iterator[None]:
    """Celery tasks sent by the code under test run in this process and transaction (Celery's
    eager mode) instead of on a worker that could not see the test's rolled-back rows."""
    from mymedic.celery import app

    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = False, False


@pytest.fixture(autouse=True)
def audit_anchor_dir(tmp_path: Any, settings: Any) -> None:
    """Each test's audit anchors live in its own folder, never in the checkout's."""
    settings.MYMEDIC_AUDIT_ANCHOR_DIR = str(tmp_path / "audit-anchors")


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """Each test starts with an empty read-model cache: the database was rolled back."""
    cache.clear()
    forget_all()
    user_counts.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    # New passwords hash fast; the session's onboarded owners keep their argon2 hashes.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
    ]


@pytest.fixture
def tenant(django_db_setup: dict[str, Tenant], db: None) -> Iterator[Tenant]:
    """The main test tenant ("acme", a chain); the test body runs in its schema."""
    acme = django_db_setup["acme"]
    with schema_context(acme.schema_name):
        yield acme


@pytest.fixture
def other_tenant(django_db_setup: dict[str, Tenant], db: None) -> Tenant:
    """A second tenant ("globex") for isolation tests."""
    return django_db_setup["globex"]


@pytest.fixture
def main_branch(tenant: Tenant) -> Branch:
    return Branch.objects.get(name="Main branch")


@pytest.fixture
def owner(tenant: Tenant) -> User:
    return User.objects.get(email=f"owner@{tenant.slug}.example.com")


@pytest.fixture
def api(tenant: Tenant) -> HostClient:
    """Anonymous API client on the main tenant's host."""
    return HostClient(f"{tenant.slug}.localhost")


@pytest.fixture
def public_api(db: None) -> HostClient:
    return HostClient("localhost")


@pytest.fixture
def monday_morning() -> Iterator[time_machine.Coordinates]:
    """08:00 on Monday 4 January 2027 in Mumbai, frozen (tests move it on). Packages and
    modules whose every test lives then ask for it once (an autouse fixture or `pytestmark`)."""
    with time_machine.travel(ist(4, 8), tick=False) as traveller:
        yield traveller


@pytest.fixture
def doctor(tenant: Tenant, main_branch: Branch) -> Doctor:
    return DoctorFactory(branch=main_branch, name="Dr. Kavita Menon")


@pytest.fixture
def patient(tenant: Tenant) -> Patient:
    return PatientFactory(name="Ravi Kumar", phone="+919812345678")


@pytest.fixture
def outbox(settings: Any, tmp_path: Path) -> FileBackend:
    """Every message channel writes to a fresh folder; returns a reader of what was sent."""
    settings.MYMEDIC_NOTIFY_BACKENDS = {
        channel: {
            "class": "apps.notifications.backends.FileBackend",
            "options": {"directory": str(tmp_path)},
        }
        for channel in CHANNELS
    }
    return FileBackend(tmp_path)


def with_token(host: str, key: str) -> HostClient:
    """An API client on `host` that sends `key` as its token."""
    client = HostClient(host)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def token_sign_in(client: HostClient, email: str, password: str, ip: str = "10.0.0.1") -> Any:
    """Asks the API for a staff token from address `ip`, as the mobile app signs in."""
    return client.post(
        "/api/v1/auth/token/",
        {"username": email, "password": password},
        format="json",
        REMOTE_ADDR=ip,
    )


def client_for(user: User, tenant: Tenant) -> HostClient:
    """An API client on `tenant`'s host, signed in with `user`'s token."""
    with schema_context(tenant.schema_name):
        key = tokens.mint(user)
    return with_token(f"{tenant.slug}.localhost", key)


@pytest.fixture(scope="module")
def committed_tenant(
    django_db_setup: dict[str, Tenant], django_db_blocker: Any
) -> Iterator[Tenant]:
    """A tenant whose data is really committed, for tests that run several connections.

    Tests using it must not use `db` (its transaction would hide their writes from the
    other connections); they unblock the database themselves and clean up after.
    """
    slug = f"committed-{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        tenant = _onboard(slug)
        yield tenant
        connection.set_schema_to_public()
        tenant.delete(force_drop=True)


def own_connection(*, schema: str = "", autocommit: bool = False) -> psycopg.Connection[Any]:
    """A psycopg connection of its own to the test database (a second session that takes or
    meets locks, listens, or commits while the test's stays open), on `schema` if given."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)  # Django's own cursor and adapters stay Django's
    params.pop("context", None)
    other = psycopg.connect(**params, autocommit=autocommit)
    if schema:
        other.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
    return other


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a server or worker process that must use the test database."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "MYMEDIC_DEBUG": "false", **extra}


# The PHI scan: every patient value the suite seeds, and everything the suite wrote to logs,
# events and the audit trail. `tests/test_phi_scan.py` (run last) looks for the former in the
# latter.
SEEDED_PHI: set[str] = set()
PRODUCED: list[str] = []


class _Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        PRODUCED.append(self.format(record))


def _seeded(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.erased is None:
        for field in instance.PHI_FIELDS:
            value = getattr(instance, field)
            if value and len(str(value)) >= 5:
                SEEDED_PHI.add(str(value))
                SEEDED_PHI.add(str(value).lstrip("+"))


def _produced(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created:
        PRODUCED.append(json.dumps(model_to_dict(instance), cls=DjangoJSONEncoder))


def phi_leaks() -> list[str]:
    """The seeded PHI values that appear in what this process produced."""
    return sorted({value for value in SEEDED_PHI for text in PRODUCED if value in text})


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_Collect(level=logging.DEBUG))
    # xdist hands out the biggest groups first, so the group of tests that run alone would
    # start while the other worker builds its test database; they come last instead (below).
    config.option.loadscopereorder = False


# Under pytest-xdist (docs/TESTING.md) the tests that must run alone (tests/isolation.py) share
# one group, which one worker runs, one after another. The tests of a module that share a
# module-scoped fixture (a server, a browser, a committed tenant) are a group too, so that one
# worker builds it once.
ONE_AT_A_TIME = "one-at-a-time"


def _xdist_group(item: pytest.Item) -> str | None:
    if runs_alone(item):
        return ONE_AT_A_TIME
    fixtures = getattr(item, "_fixtureinfo", None)
    if fixtures and any(
        definitions[-1].scope == "module" for definitions in fixtures.name2fixturedefs.values()
    ):
        return item.nodeid.split("::")[0]
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist names the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if group := _xdist_group(item):
            item.add_marker(pytest.mark.xdist_group(group))
    # The tests that run alone after the others (with xdist, both workers share the others
    # first), the PHI scan last of all.
    items.sort(key=lambda item: (item.get_closest_marker("phi_scan") is not None, runs_alone(item)))


@pytest.fixture(scope="session", autouse=True)
def collect_phi_and_output() -> Iterator[None]:
    from django.db.models.signals import post_save

    from apps.audit.models import AuditEntry
    from apps.eventstore.models import Event
    from apps.scheduling.models import Patient

    post_save.connect(_seeded, sender=Patient, weak=False)
    post_save.connect(_produced, sender=Event, weak=False)
    post_save.connect(_produced, sender=AuditEntry, weak=False)
    yield
    # The PHI scan test runs in one xdist worker and sees what that worker produced; each
    # worker scans its own share once all its tests have run (an error at the last teardown).
    if os.environ.get("PYTEST_XDIST_WORKER"):
        leaks = phi_leaks()
        assert leaks == [], f"PHI found in logs/events/audit: {leaks[:10]}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker hands the fault timings it measured to the controller's summary; the
    controller drops the database the workers copied (tests/testdb.py)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fault_timings"] = dict(TIMINGS)
    elif session.config.pluginmanager.has_plugin("dsession") and not session.config.getoption(
        "reuse_db"
    ):
        testdb.drop_base()


def pytest_testnodedown(node: Any, error: Any) -> None:
    TIMINGS.update(getattr(node, "workeroutput", {}).get("fault_timings", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("fault timings")
        for what, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{what}: {seconds:.2f} s")
