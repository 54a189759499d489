from pathlib import Path
from typing import Any

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
        parser.add_argument("--out", required=True, type=Path, metavar="FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant_backup(slug=options["slug"], out=options["out"], progress=self.stdout.write)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
