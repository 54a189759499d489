"""`manage.py hl7_purge [--days N] [--tenant SLUG]`: the HL7 store's retention, per tenant."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.core.tenancy import for_each_tenant
from apps.integration.commands import messages_purge


class Command(BaseCommand):
    help = "Deletes applied and sent HL7 messages older than the retention, tenant by tenant."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=settings.MYMEDIC_HL7_RETENTION_DAYS,
            help="retention in days (MYMEDIC_HL7_RETENTION_DAYS, default 90)",
        )
        parser.add_argument("--tenant", action="append", dest="tenants", metavar="SLUG")

    def handle(self, *args: Any, **options: Any) -> None:
        older_than = timedelta(days=options["days"])
        purged = for_each_tenant(
            lambda tenant: messages_purge(older_than=older_than), options["tenants"]
        )
        for schema, count in purged.items():
            self.stdout.write(f"{schema}: {count} messages purged")
