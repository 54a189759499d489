"""Fixtures of the fault suite: empty queues and a second tenant with committed data (the
timings each fault test records are printed by tests/conftest.py)."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection

from apps.tenants.models import Tenant
from tests.conftest import _onboard

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
