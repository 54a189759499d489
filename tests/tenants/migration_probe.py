"""A migration to run in tests: `patientapp`'s real migrations plus `0002_probe`, which
creates a table in each tenant-like schema and notes the schema in it.

Environment, read when the probe runs (so a runner in another process obeys it too):
`PROBE_FAIL` (comma-separated schemas where it raises), `PROBE_SLEEP` (seconds per schema).
"""

import pkgutil
import textwrap
import uuid
from pathlib import Path

import apps.patientapp.migrations

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
