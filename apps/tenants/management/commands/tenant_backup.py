from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.tenants.backups import tenant_backup


class Command(BaseCommand):
    help = (
        "Writes one tenant's backup to a new file: its schema (pg_dump -n), its public rows and "
        "audit anchors, with a manifest and checksums. Never overwrites a file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--out",
            type=Path,
            metavar="FILE",
            help="default: SLUG-<UTC time>.tar in this cell's MYMEDIC_BACKUP_DIR (residency)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out = options["out"]
        if out is None:
            folder = Path(settings.MYMEDIC_BACKUP_DIR)
            folder.mkdir(parents=True, exist_ok=True)
            out = folder / f"{options['slug']}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.tar"
        try:
            tenant_backup(slug=options["slug"], out=out, progress=self.stdout.write)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
