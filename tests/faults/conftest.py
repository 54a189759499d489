"""Fixtures of the fault suite: empty queues, a second tenant with committed data, and
throw-away clusters with the app's environment for the drills that start their own PostgreSQL
(tests/faults/clusters.py), each a copy of one migrated image. The timings each fault test
records are printed by tests/conftest.py."""

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def migrated_image() -> Iterator[MigratedImage]:
    """The process's migrated cluster image (tests/faults/clusters.py), built when a test
    first asks for it; the restore and failover drills and the service-fault stack copy it."""
    folder = postgres_folder("mymedic-image-")
    env = app_environment(folder / "app")
    started = time.monotonic()
    try:
        image = MigratedImage.build(folder, env)
        TIMINGS["migrated cluster image (initdb, migrate_all), once per process"] = (
            time.monotonic() - started
        )
        yield image
    finally:
        redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()
        shutil.rmtree(folder, ignore_errors=True)


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
