"""Schema upkeep: the public schema, the template new tenants are cloned from, every tenant
and every spare schema of the sign-up pool."""

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_exists

from apps.core.keys import ensure_tenant_key
from apps.core.tenancy import for_each_tenant
from apps.tenants import spares


def migrate_all(verbosity: int = 0) -> None:
    """Brings the public schema, the tenant template, every tenant and every unclaimed spare
    schema to the latest migration."""
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
    ensure_template_schema(verbosity=verbosity)
    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=verbosity)
    spares.migrate_stale(verbosity=verbosity)
    spares.recipe()  # dumped here, off any time limit, once per migration state
    for_each_tenant(lambda tenant: ensure_tenant_key())


def ensure_template_schema(verbosity: int = 0) -> None:
    """Creates and migrates the schema that onboarding clones (far faster than migrating)."""
    name = settings.TENANT_BASE_SCHEMA
    if not schema_exists(name):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{name}"')
    call_command("migrate_schemas", schema_name=name, interactive=False, verbosity=verbosity)
