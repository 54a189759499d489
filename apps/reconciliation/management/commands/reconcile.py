from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apps.core.tenancy import TenantsFailed, for_each_tenant, tenant_schemas
from apps.reconciliation.compute import close_days


class Command(BaseCommand):
    help = "Recomputes daily closes from the event log for a date or a range (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", dest="tenants", metavar="SLUG")
        parser.add_argument("--date", type=date.fromisoformat)
        parser.add_argument("--from", dest="start", type=date.fromisoformat)
        parser.add_argument("--to", dest="end", type=date.fromisoformat)

    def handle(self, *args: Any, **options: Any) -> None:
        start = options["date"] or options["start"]
        end = options["date"] or options["end"] or start
        if start is None or end < start:
            raise CommandError("Give --date, or --from (and --to not before it).")
        tenants = list(tenant_schemas(options["tenants"]))
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        with tqdm(total=len(tenants) * len(days), unit="day", file=self.stderr) as bar:

            def close(tenant: Any) -> int:
                closes = 0
                for day in days:
                    closes += len(close_days(day, day))
                    bar.update()
                return closes

            try:
                closes = for_each_tenant(close, options["tenants"])
            except TenantsFailed as failure:
                closes = failure.results
                self.stdout.write(self._summary(closes))
                raise
        self.stdout.write(self._summary(closes))

    def _summary(self, closes: dict[str, int]) -> str:
        return f"{sum(closes.values())} daily closes computed for {len(closes)} tenant(s)."
