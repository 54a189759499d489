from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.audit.trail import verify
from apps.core.tenancy import for_each_tenant


class Command(BaseCommand):
    help = "Verifies each tenant's hash-chained audit trail and its event log against it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", dest="tenants", metavar="SLUG")
        parser.add_argument(
            "--archives",
            action="store_true",
            help="also re-read every archived month (files, signed records, chain, digests)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        broken = 0

        def check(tenant: Any) -> None:
            nonlocal broken
            result = verify(archives=options["archives"])
            if result.ok:
                self.stdout.write(
                    f"{tenant.slug}: ok, {result.entries} entries, head {result.head[:16]}…, "
                    f"{result.anchors} anchors match"
                )
                return
            broken += 1
            where = f" at entry {result.broken_at}" if result.broken_at else ""
            self.stdout.write(
                self.style.ERROR(
                    f"{tenant.slug}: BROKEN{where}: {result.problem} "
                    f"(after {result.entries} good entries)"
                )
            )

        try:
            for_each_tenant(check, options["tenants"])
        finally:
            if broken:
                self.stdout.write(
                    self.style.ERROR(f"{broken} tenant(s) have a broken audit trail.")
                )
        if broken:
            raise CommandError(f"{broken} tenant(s) have a broken audit trail.")
