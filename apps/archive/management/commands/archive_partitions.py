from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.archive import commands
from apps.archive.policy import LEGAL_MINIMUM_MONTHS, REFUSAL, retention_months
from apps.core.db import connection
from apps.core.tenancy import for_each_tenant


class Command(BaseCommand):
    help = (
        "Makes each tenant's log partitions ahead and archives the months past its retention "
        "(gzip NDJSON + signed manifest under MYMEDIC_ARCHIVE_DIR, then DETACH and DROP)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", dest="tenants", metavar="SLUG")
        parser.add_argument(
            "--retention-months",
            type=int,
            help="give the tenant(s) their own retention (refused below the legal minimum)",
        )
        parser.add_argument("--plan", action="store_true", help="only print what would be archived")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = options["retention_months"]
        if wanted is not None and wanted < LEGAL_MINIMUM_MONTHS:
            raise CommandError(REFUSAL)

        def run(tenant: Any) -> None:
            if options["retention_months"] is not None:
                commands.retention_set(months=options["retention_months"], actor=None)
            made = commands.partitions_make()
            keep = retention_months(connection.schema_name)
            cutoff = commands.archive_cutoff()
            line = f"{tenant.slug}: keeps {keep} months (archives before {cutoff:%Y-%m})"
            if made:
                line += f", made {', '.join(made)}"
            if options["plan"]:
                self.stdout.write(line)
                return
            done = commands.logs_archive(actor=None)
            archived = ", ".join(f"{a.partition} ({a.rows} rows)" for a in done) or "nothing"
            self.stdout.write(f"{line}, archived {archived}")

        for_each_tenant(run, options["tenants"])
