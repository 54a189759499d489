"""Commits ask for one projection run for their own tenant, however the schema moved since."""

import json
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django_tenants.utils import schema_context

from apps.core.db import connection
from apps.eventstore.tasks import PENDING_KEY
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory


def queued_schemas() -> list[str]:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    messages = [json.loads(raw) for raw in broker.lrange("projections", 0, -1)]
    return [
        m["headers"]["_schema_name"] for m in messages if "run_projections" in m["headers"]["task"]
    ]


def purge() -> None:
    """Empties the queue these tasks are routed to."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("projections")


def test_a_commit_requests_one_run_for_its_own_tenant(
    db: None, django_capture_on_commit_callbacks: Any
) -> None:
    tenant = Tenant.objects.get(slug="acme")
    assert connection.schema_name == "public"
    purge()
    with django_capture_on_commit_callbacks(execute=True), schema_context(tenant.schema_name):
        BranchFactory()
        BranchFactory()
        # the commit happens here, back in the public schema

    assert queued_schemas() == [tenant.schema_name]  # two appends, one coalesced run
    with schema_context(tenant.schema_name):
        assert cache.get(PENDING_KEY) == 1
    purge()
