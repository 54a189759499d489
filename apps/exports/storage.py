"""Where export archives live: the cell's private files, a folder per tenant schema."""

from pathlib import Path

from django.conf import settings

from apps.core.db import connection


def export_path(export_id: int) -> Path:
    return Path(settings.MYMEDIC_EXPORT_DIR) / connection.schema_name / f"{export_id}.tar.gz.age"
