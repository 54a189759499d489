from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.tenants.commands import tenant_restore


class Command(BaseCommand):
    help = (
        "Restores a tenant from a tenant_backup file into this database, under its own slug or "
        "--as-slug. Checks every checksum first; refuses a slug in use unless --replace. Needs "
        "the master key the backup's tenant keys were wrapped with."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--as-slug", metavar="SLUG")
        parser.add_argument(
            "--replace", action="store_true", help="drop an existing tenant of that slug first"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            restored = tenant_restore(
                actor=None,
                path=options["file"],
                as_slug=options["as_slug"],
                replace=options["replace"],
                progress=self.stdout.write,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {restored.tenant.slug} ({', '.join(restored.domains)}): "
                f"{restored.events} events in {restored.seconds:.1f} s. "
                f"Check it: manage.py verify_audit --tenant {restored.tenant.slug}; "
                f"manage.py replay --check --tenant {restored.tenant.slug}"
            )
        )
