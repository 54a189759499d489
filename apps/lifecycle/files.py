"""The one list of a tenant's files on this cell's disks, for measuring and for erasing.

Per tenant: its export archives, its FHIR bulk exports, its audit anchors (and the copies a
restore kept beside them) and the backups `tenant_backup` wrote to the cell's backup folder.
Files shared by tenants (the local message outbox, the local mail folder) are not listed:
erasure takes the tenant's lines out of them (`apps.lifecycle.erasure`).
"""

from collections.abc import Iterator
from pathlib import Path

from django.conf import settings


def tenant_paths(schema: str, slug: str) -> list[Path]:
    """Files and folders that belong to the tenant alone (those that exist)."""
    anchors = Path(settings.MYMEDIC_AUDIT_ANCHOR_DIR)
    backups = Path(settings.MYMEDIC_BACKUP_DIR)
    found = [
        Path(settings.MYMEDIC_EXPORT_DIR) / schema,
        Path(settings.MYMEDIC_FHIR_EXPORT_DIR) / schema,
        anchors / f"{schema}.jsonl",
        *(anchors.glob(f"{schema}.jsonl.*") if anchors.is_dir() else []),
        # `tenant_backup`'s default name: SLUG-<UTC time>.tar (slugs have no underscore and
        # end in a letter or digit, so another slug never matches "SLUG-2").
        *(backups.glob(f"{slug}-[0-9]*.tar") if backups.is_dir() else []),
    ]
    return [path for path in found if path.exists()]


def walk(path: Path) -> Iterator[Path]:
    """The regular files at or under `path`."""
    if path.is_file():
        yield path
    elif path.is_dir():
        yield from (each for each in path.rglob("*") if each.is_file())


def bytes_of(paths: list[Path]) -> int:
    return sum(each.stat().st_size for path in paths for each in walk(path))
