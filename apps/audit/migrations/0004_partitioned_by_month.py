from typing import Any

from django.db import migrations

from apps.core.partitions import AUDIT_TRAIL, convert


def partition(apps: Any, schema_editor: Any) -> None:
    convert(AUDIT_TRAIL)


class Migration(migrations.Migration):
    """The audit trail becomes RANGE-partitioned by month (apps/core/partitions.py), online for
    a tenant whose trail has rows."""

    atomic = False
    dependencies = [("audit", "0003_note_audit_head"), ("eventstore", "0006_partitioned_by_month")]

    operations = [
        migrations.RunPython(partition, migrations.RunPython.noop, elidable=False),
    ]
