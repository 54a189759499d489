"""`keys.remembered()`: work that opens many patients reads each tenant key version once."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core import keys
from apps.tenants.models import Tenant


def key_reads(queries: CaptureQueriesContext) -> int:
    return sum('"core_tenantkey"' in query["sql"] for query in queries.captured_queries)


def test_inside_the_block_a_key_version_is_read_once_and_outside_every_time(
    tenant: Tenant,
) -> None:
    with CaptureQueriesContext(connection) as outside:
        first = [keys.tenant_key(1) for _ in range(3)]
    with CaptureQueriesContext(connection) as inside, keys.remembered():
        again = [keys.tenant_key(1) for _ in range(3)]
    assert first == again and len(set(first)) == 1
    assert (key_reads(outside), key_reads(inside)) == (3, 1)
