"""The relay wakes on commit: every tenant log's appends NOTIFY through a statement trigger on
the partitioned parent (an insert through the parent never fires a partition's own statement
triggers, so a trigger left on a partition would wake nobody)."""

from django.db import connection

from apps.tenants.models import Tenant


def test_the_partitioned_event_log_notifies_the_relay_on_every_append(tenant: Tenant) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT n.nspname, c.relkind
            FROM pg_trigger t
            JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE t.tgname = 'eventstore_event_notify_appended'
              AND c.relname = 'eventstore_event' AND n.nspname = ANY(%s)
            """,
            [[tenant.schema_name, "tenant_template"]],
        )
        found = sorted(cursor.fetchall())
    assert found == sorted([(tenant.schema_name, "p"), ("tenant_template", "p")])
