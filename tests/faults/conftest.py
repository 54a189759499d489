"""Fixtures of the fault suite: empty queues, a second tenant with committed data, and
throw-away clusters with the app's environment for the drills that start their own PostgreSQL
(tests/faults/clusters.py), each a copy of one migrated image. The timings each fault test
records are printed by tests/conftest.py."""

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection

from apps.tenants.models import Tenant
from mymedic.settings import redis_db_url
from tests.conftest import _onboard
from tests.faults.clusters import ROOT, Cluster, MigratedImage
from tests.faults.stack import TIMINGS

QUEUES = ["default", "projections", "notifications", "reports", "integration", "celery"]
# Where kombu keeps messages a worker took and has not acknowledged.
UNACKED = ["unacked", "unacked_index", "unacked_mutex"]


@pytest.fixture
def empty_queues() -> Iterator[None]:
    """No message left by another test reaches these workers, and none of theirs stays."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete(*QUEUES, *UNACKED)
    yield
    broker.delete(*QUEUES, *UNACKED)
    broker.close()


@pytest.fixture(scope="module")
def second_tenant(django_db_setup: dict[str, Tenant], django_db_blocker: Any) -> Iterator[Tenant]:
    """Another tenant with committed data (see `committed_tenant`)."""
    with django_db_blocker.unblock():
        tenant = _onboard(f"second-{uuid.uuid4().hex[:8]}")
        yield tenant
        connection.set_schema_to_public()
        tenant.delete(force_drop=True)


def postgres_folder(prefix: str) -> Path:
    """A new folder under /tmp that the postgres user owns (when we are root) and can reach."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(path, "postgres")
    return path


def app_environment(local_dir: Path) -> dict[str, str]:
    """The app's environment for subprocesses, its local files in `local_dir`. Projection runs
    they request go to a broker database of their own, which no worker of the suite reads."""
    return {
        **os.environ,
        "MYMEDIC_ENV": "local",
        "MYMEDIC_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "mymedic.settings",
        "CELERY_BROKER_URL": redis_db_url(os.environ.get("REDIS_URL", settings.REDIS_URL), 13),
        "MYMEDIC_LOCAL_DIR": str(local_dir),
        "PYTHONPATH": str(ROOT),
    }


# The process's one migrated cluster image: its folder and environment, then the image or
# the error that its build raised.
_image: dict[str, Any] = {}


def _built_image() -> MigratedImage:
    """The migrated image, built on the first call (tests/faults/clusters.py)."""
    if not _image:
        _image["folder"] = folder = postgres_folder("mymedic-image-")
        _image["env"] = env = app_environment(folder / "app")
        started = time.monotonic()
        try:
            _image["image"] = MigratedImage.build(folder, env)
        except Exception as error:  # noqa: BLE001  (raised again to each test that asks)
            _image["error"] = error
        else:
            TIMINGS["migrated cluster image (initdb, migrate_all), once per process"] = (
                time.monotonic() - started
            )
    if "error" in _image:
        raise _image["error"]
    image: MigratedImage = _image["image"]
    return image


def _remove_image() -> None:
    if _image:
        redis.Redis.from_url(_image["env"]["CELERY_BROKER_URL"]).flushdb()
        shutil.rmtree(_image["folder"], ignore_errors=True)
        _image.clear()


# Before pytest-timeout starts counting (outermost, like the wait for a turn in
# tests/isolation.py): a test's time limit is for what the test does, the image is built once
# for all of them (within its own limits, MigratedImage.build). A failed build is raised again
# by the fixture, in the set-up of each test that asks for it.
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, Any, Any]:
    if "migrated_image" in getattr(item, "fixturenames", ()):
        with contextlib.suppress(Exception):
            _built_image()
    return (yield)


@pytest.fixture(scope="session")
def migrated_image() -> Iterator[MigratedImage]:
    """The process's migrated cluster image, built before the first test that asks for it
    started; the restore and failover drills and the service-fault stack copy it."""
    try:
        yield _built_image()
    finally:
        _remove_image()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Also when every test that asked for the image was skipped after it was built."""
    _remove_image()


@pytest.fixture
def drill_dir() -> Iterator[Path]:
    path = postgres_folder("mymedic-drill-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def clusters() -> Iterator[list[Cluster]]:
    """Every cluster the test starts goes in this list and is stopped after it."""
    started: list[Cluster] = []
    try:
        yield started
    finally:
        for cluster in started:
            cluster.stop()


@pytest.fixture
def app_env(drill_dir: Path) -> Iterator[dict[str, str]]:
    """The app's environment for subprocesses (`app_environment`); their broker database is
    emptied after, and their cache keys carry the drill's schema, which no other test uses."""
    env = app_environment(drill_dir / "app")
    try:
        yield env
    finally:
        redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()
