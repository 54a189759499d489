"""The database backend: django-tenants' (a schema per tenant, chosen by `search_path`), with
a table list whose cost does not grow with every schema in the database.

Django's list (`get_table_list`) keeps the relations `pg_table_is_visible` on the search path,
and PostgreSQL evaluates that function for every relation of the catalog: 1.2 million at 2,000
tenants, 1.3 s a call, two calls a schema each time `migrate_tenants` migrates one (Django's
migration recorder asks whether `django_migrations` exists), so a release's migration over N
tenants cost N², not N. Here the candidates are the relations that depend on a schema of the
search path in `pg_depend` (an index look-up: every relation records its schema there, which
is how `DROP SCHEMA … CASCADE` and the end of a session's temporary schema find them), then
kept by the same `pg_table_is_visible`: the same rows, in milliseconds whatever the number of
schemas (docs/PERFORMANCE.md, "Migrations at scale").
"""

from typing import Any

# PostgreSQL's TableInfo carries the comment too (the stubs do not name it).
from django.db.backends.postgresql.introspection import TableInfo  # type: ignore[attr-defined]
from django_tenants.postgresql_backend import base
from django_tenants.postgresql_backend.introspection import (
    DatabaseSchemaIntrospection,
    DatabaseSchemaIntrospectionSearchPathContext,
)

TABLE_LIST = """
SELECT c.relname,
       CASE WHEN c.relispartition THEN 'p' WHEN c.relkind IN ('m', 'v') THEN 'v' ELSE 't' END,
       obj_description(c.oid, 'pg_class')
FROM pg_catalog.pg_depend d
JOIN pg_catalog.pg_class c ON c.oid = d.objid
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE d.classid = 'pg_catalog.pg_class'::regclass
    AND d.refclassid = 'pg_catalog.pg_namespace'::regclass
    AND d.refobjid = ANY (ARRAY(
        SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = ANY (current_schemas(true))
    ))
    AND d.objsubid = 0
    AND c.relkind IN ('f', 'm', 'p', 'r', 'v')
    AND n.nspname NOT IN ('pg_catalog', 'pg_toast')
    AND pg_catalog.pg_table_is_visible(c.oid)
"""


class Introspection(DatabaseSchemaIntrospection):
    def get_table_list(self, cursor: Any) -> list[TableInfo]:
        # The search path is the schema being introspected alone, as django-tenants sets it.
        with DatabaseSchemaIntrospectionSearchPathContext(
            cursor=cursor, connection=self.connection
        ):
            cursor.execute(TABLE_LIST)
            rows = cursor.fetchall()
        return [TableInfo(*row) for row in rows if row[0] not in self.ignored_tables]


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.introspection = Introspection(self)
