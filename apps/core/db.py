"""The default connection, typed as django-tenants' schema-aware wrapper, and the one
definition of the append-only triggers that migrations install."""

from typing import cast

from django.db import connection as _connection
from django.db import migrations
from django_tenants.postgresql_backend.base import DatabaseWrapper

connection = cast(DatabaseWrapper, _connection)


def release_connection() -> None:
    """Closes this context's connection (back to the pool) unless a transaction needs it.

    For long-lived requests (event streams) that would otherwise hold a connection until the
    client goes away; the next query, if any, takes one again.
    """
    if not connection.in_atomic_block:
        connection.close()


# One function in `public` serves every tenant's triggers; each schema gets its own triggers.
REFUSE_CHANGE_FUNCTION = """
CREATE OR REPLACE FUNCTION public.mymedic_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is not allowed: the table is append-only',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def append_only(*tables: str, name: str | None = None, truncate: bool = True) -> migrations.RunSQL:
    """The migration operation that makes each table append-only: triggers that refuse UPDATE
    and DELETE (`<name>_append_only`) and, with `truncate`, TRUNCATE (`<name>_no_truncate`),
    through `public.mymedic_refuse_change()`. `name` defaults to the table's name."""
    create, drop = [], []
    for table in tables:
        trigger = name or table
        create.append(
            f"CREATE TRIGGER {trigger}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION public.mymedic_refuse_change();"
        )
        drop.append(f"DROP TRIGGER IF EXISTS {trigger}_append_only ON {table};")
        if truncate:
            create.append(
                f"CREATE TRIGGER {trigger}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION public.mymedic_refuse_change();"
            )
            drop.append(f"DROP TRIGGER IF EXISTS {trigger}_no_truncate ON {table};")
    return migrations.RunSQL("\n".join(create), reverse_sql="\n".join(drop))


def note_head(*, table: str, job: str, column: str, trigger: str) -> list[migrations.RunSQL]:
    """The migration operations by which each insert into `table` notes its largest `column`
    as the tenant's head for `job` in the public schema's `tenants_tenantwork`, in the same
    transaction, so periodic jobs find the tenants with new rows without visiting every schema
    (apps/core/tenancy.py): a function `public.mymedic_note_<job>_head()` and a
    statement-level trigger `<trigger>` on `table`."""
    function = f"public.mymedic_note_{job}_head"
    return [
        migrations.RunSQL(
            f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.tenants_tenantwork (tenant_id, job, position)
    SELECT tenant.id, '{job}', head.position
    FROM public.tenants_tenant AS tenant,
         (SELECT max({column}) AS position FROM appended) AS head
    WHERE tenant.schema_name = TG_TABLE_SCHEMA AND head.position IS NOT NULL
    ON CONFLICT (tenant_id, job) DO UPDATE
        SET position = GREATEST(public.tenants_tenantwork.position, EXCLUDED.position);
    RETURN NULL;
END
$$;
""",  # noqa: S608  (names from migrations, never from input)
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            f"""
CREATE TRIGGER {trigger}
    AFTER INSERT ON {table} REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
""",
            reverse_sql=f"DROP TRIGGER IF EXISTS {trigger} ON {table};",
        ),
    ]
