import re
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.billing.gstr1 import month_csv
from apps.core.tenancy import tenant_schemas

MONTH = re.compile(r"^(19|2[01])[0-9]{2}-(0[1-9]|1[0-2])$")


class Command(BaseCommand):
    help = "Writes a tenant's GSTR-1 outward supplies summary of a month as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, metavar="SLUG")
        parser.add_argument("--month", required=True, metavar="YYYY-MM")
        parser.add_argument("--output", type=Path, help="a file (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not MONTH.match(options["month"]):
            raise CommandError("Give the month as YYYY-MM, e.g. 2027-01.")
        tenant = next(tenant_schemas([options["tenant"]]), None)
        if tenant is None:
            raise CommandError(f"No tenant {options['tenant']}.")
        with schema_context(tenant.schema_name):
            report = month_csv(options["month"])
        if options["output"] is None:
            self.stdout.write(report, ending="")
            return
        options["output"].write_text(report, encoding="utf-8")
        self.stderr.write(f"Wrote {options['output']}.")
