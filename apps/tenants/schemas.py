"""Schema upkeep: the public schema, the template new tenants are cloned from, every tenant
and every spare schema of the sign-up pool."""

from django.conf import settings
from django.core.management import call_command

from apps.core.keys import ensure_tenant_key
from apps.core.tenancy import for_each_tenant
from apps.tenants import migrator, spares


def migrate_all(verbosity: int = 0) -> None:
    """Brings every schema to the latest migrations with the resumable runner
    (`apps.tenants.migrator`); raises `SchemasFailed` naming the schemas that failed, after
    migrating all the others. A directory in a database of its own is migrated first."""
    if not settings.MYMEDIC_DIRECTORY_SHARED:  # the global directory has its own database
        call_command(
            "migrate_schemas",
            shared=True,
            database="directory",
            interactive=False,
            verbosity=verbosity,
        )
    migrator.run(verbosity=verbosity).raise_for_failures()
    spares.migrate_stale(verbosity=verbosity)  # their records catch up with the runner's work
    spares.recipe()  # dumped here, off any time limit, once per migration state
    for_each_tenant(lambda tenant: ensure_tenant_key())


def ensure_template_schema(verbosity: int = 0) -> None:
    """Creates and migrates the schema that onboarding clones (far faster than migrating)."""
    migrator.create_template_schema()
    migrator.run(schemas=[settings.TENANT_BASE_SCHEMA], verbosity=verbosity).raise_for_failures()
