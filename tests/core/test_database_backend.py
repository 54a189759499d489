"""The project's database backend (`mymedic.postgres`): django-tenants' with a table list
narrowed to the search path's schemas before PostgreSQL's visibility check; it lists exactly
the relations Django's own query lists, in a tenant's schema, the template's and public's."""

from typing import Any

import pytest
from django.conf import settings
from django_tenants.postgresql_backend.introspection import DatabaseSchemaIntrospection

from apps.core.db import connection
from apps.tenants.models import Tenant
from mymedic.postgres.base import Introspection


def djangos_list(cursor: Any) -> set[tuple[str, str]]:
    """What django-tenants' introspection (Django's query) lists on the same connection."""
    return {(t.name, t.type) for t in DatabaseSchemaIntrospection.get_table_list(
        connection.introspection, cursor)}  # fmt: skip


def ours(cursor: Any) -> set[tuple[str, str]]:
    return {(t.name, t.type) for t in connection.introspection.get_table_list(cursor)}


def test_every_database_alias_uses_the_projects_backend() -> None:
    assert {db["ENGINE"] for db in settings.DATABASES.values()} == {"mymedic.postgres"}
    assert isinstance(connection.introspection, Introspection)


@pytest.mark.parametrize("schema", ["tenant", "template", "public"])
def test_the_table_list_is_djangos_in_every_kind_of_schema(tenant: Tenant, schema: str) -> None:
    name = {
        "tenant": tenant.schema_name,
        "template": settings.TENANT_BASE_SCHEMA,
        "public": "public",
    }[schema]
    connection.set_schema(name)
    with connection.cursor() as cursor:
        cursor.execute("CREATE VIEW mymedic_backend_probe AS SELECT 1 AS one")  # listed as "v"
        # A session's temporary table is visible, so Django lists it: so must we.
        cursor.execute("CREATE TEMPORARY TABLE mymedic_backend_scratch (one int)")
        listed, expected = ours(cursor), djangos_list(cursor)

    assert listed == expected
    assert {("mymedic_backend_probe", "v"), ("mymedic_backend_scratch", "t")} <= listed
    if schema != "public":
        assert ("eventstore_event", "t") in listed  # a partitioned table
        assert any(kind == "p" for _, kind in listed)  # its months
        assert ("tenants_tenant", "t") not in listed  # public's tables are not the schema's
    else:
        assert ("tenants_tenant", "t") in listed and ("eventstore_event", "t") not in listed
