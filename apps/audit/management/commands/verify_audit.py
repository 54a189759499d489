from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.audit.trail import verify
from apps.core.tenancy import tenant_schemas


class Command(BaseCommand):
    help = "Verifies each tenant's hash-chained audit trail and its event log against it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", dest="tenants", metavar="SLUG")

    def handle(self, *args: Any, **options: Any) -> None:
        broken = 0
        for tenant in tenant_schemas(options["tenants"]):
            with schema_context(tenant.schema_name):
                result = verify()
            if result.ok:
                self.stdout.write(
                    f"{tenant.slug}: ok, {result.entries} entries, head {result.head[:16]}…, "
                    f"{result.anchors} anchors match"
                )
                continue
            broken += 1
            where = f" at entry {result.broken_at}" if result.broken_at else ""
            self.stdout.write(
                self.style.ERROR(
                    f"{tenant.slug}: BROKEN{where}: {result.problem} "
                    f"(after {result.entries} good entries)"
                )
            )
        if broken:
            raise CommandError(f"{broken} tenant(s) have a broken audit trail.")
