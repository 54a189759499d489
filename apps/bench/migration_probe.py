"""A migration to measure and test the migration runner with: `patientapp`'s real
migrations plus `0002_probe`, which creates a table in each tenant-like schema and notes the
schema in it. Used through `MIGRATION_MODULES = {"patientapp": write_package(directory)}`
with `directory` on `sys.path`; `forget` takes it out of every schema again.

Environment, read when the probe runs (so a runner in another process obeys it too):
`PROBE_FAIL` (comma-separated schemas where it raises), `PROBE_SLEEP` (seconds per schema).
"""

import os
import pkgutil
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection

import apps.patientapp.migrations
from apps.tenants.backups import libpq_env, pg_tool, run_tool
from apps.tenants.models import Tenant

APP = "patientapp"
NAME = "0002_probe"

PROBE = """
import os
import time

from django.db import migrations


def note(apps, schema_editor):
    schema = schema_editor.connection.schema_name
    time.sleep(float(os.environ.get("PROBE_SLEEP") or 0))
    if schema in os.environ.get("PROBE_FAIL", "").split(","):
        raise RuntimeError(f"the probe refuses {schema}")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("INSERT INTO migration_probe (schema) VALUES (%s)", [schema])


class Migration(migrations.Migration):
    dependencies = [("patientapp", "{leaf}")]
    operations = [
        migrations.RunSQL(
            "CREATE TABLE migration_probe (schema text NOT NULL)",
            "DROP TABLE migration_probe",
        ),
        migrations.RunPython(note, migrations.RunPython.noop),
    ]
"""


def write_package(directory: Path) -> str:
    """Writes the package under `directory` (put it on sys.path); returns its module name."""
    package = f"probe_migrations_{uuid.uuid4().hex[:8]}"
    root = directory / package
    root.mkdir()
    (root / "__init__.py").write_text("")
    real = sorted(info.name for info in pkgutil.iter_modules(apps.patientapp.migrations.__path__))
    for name in real:
        (root / f"{name}.py").write_text(
            textwrap.dedent(f"""\
                from importlib import import_module

                Migration = import_module("apps.patientapp.migrations.{name}").Migration
            """)
        )
    (root / f"{NAME}.py").write_text(PROBE.replace("{leaf}", real[-1]))
    return package


FORGET = """
DO $$
DECLARE schema_name text;
BEGIN
  FOR schema_name IN
    SELECT n.nspname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relname = 'django_migrations'
  LOOP
    EXECUTE format(
      'DELETE FROM %I.django_migrations WHERE app = %L AND name = %L',
      schema_name, 'patientapp', '0002_probe'
    );
    EXECUTE format('DROP TABLE IF EXISTS %I.migration_probe', schema_name);
  END LOOP;
END $$;
"""


def forget() -> None:
    """Takes the probe out of every schema, as if it had never been applied."""
    with connection.cursor() as cursor:
        cursor.execute(FORGET)


# A management command in a process of its own with the probe's migrations, since settings
# changed in this process do not reach another: `python -c DRIVER <command> <args>`.
DRIVER = """
import os, sys
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
settings.MIGRATION_MODULES = {"patientapp": os.environ["PROBE_PACKAGE"]}
call_command(*sys.argv[1:])
"""


def driver_env(directory: Path, package: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for DRIVER: `base` (default this process's), the package on the path."""
    return {
        **(os.environ if base is None else base),
        "DJANGO_SETTINGS_MODULE": "mymedic.settings",
        "PYTHONPATH": os.pathsep.join([str(directory), str(settings.BASE_DIR)]),
        "PROBE_PACKAGE": package,
    }


def driver_argv(*command: str) -> list[str]:
    return [sys.executable, "-c", DRIVER, *command]


def copy_template(count: int, prefix: str, batch: int = 10) -> list[Tenant]:
    """`count` tenants whose schemas are copies of the migrated template: pg_dump's SQL of it
    with the schema renamed, `batch` schemas per transaction (far cheaper than signups, whose
    clone slows down as the catalog grows, or than migrating each schema from nothing)."""
    template = settings.TENANT_BASE_SCHEMA
    dumped = subprocess.run(  # noqa: S603  (our own arguments, no shell)
        [pg_tool("pg_dump"), "--no-owner", f"--schema={template}"],
        env=libpq_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tenants = [
        Tenant(schema_name=f"{prefix}_{n}", slug=f"{prefix}-{n}".replace("_", "-"), name="Bench")
        for n in range(count)
    ]
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "schemas.sql"
        for start in range(0, count, batch):
            chunk = tenants[start : start + batch]
            script.write_text("".join(dumped.replace(template, t.schema_name) for t in chunk))
            run_tool(
                [pg_tool("psql"), "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f", str(script)]
            )
            Tenant.objects.bulk_create(chunk)  # bulk: no save(), so no schema of its own
    return tenants


def drop_copies(tenants: list[Tenant], batch: int = 10) -> None:
    for start in range(0, len(tenants), batch):
        chunk = tenants[start : start + batch]
        with connection.cursor() as cursor:
            for tenant in chunk:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')
        Tenant.objects.filter(pk__in=[t.pk for t in chunk]).delete()
