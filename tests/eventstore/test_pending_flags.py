"""The "run pending" flag that coalesces projection-run requests never outlives the run it
announced: not when the broker refuses the request, not when a worker dies holding it."""

from django.core.cache import cache
from django_tenants.utils import schema_context

from apps.eventstore.tasks import PENDING_KEY, _forget_pending_runs
from apps.tenants.models import Tenant


def test_a_starting_worker_forgets_the_flags_a_killed_worker_left_in_every_tenant(
    tenant: Tenant, other_tenant: Tenant, celery_in_process: None
) -> None:
    for schema in (tenant.schema_name, other_tenant.schema_name):
        with schema_context(schema):
            cache.set(PENDING_KEY, 1, timeout=60)  # a run announced, then its worker was killed

    _forget_pending_runs()

    for schema in (tenant.schema_name, other_tenant.schema_name):
        with schema_context(schema):
            assert cache.get(PENDING_KEY) is None
