from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from apps.tenants import spares
from apps.tenants.commands import spare_schemas_top_up
from apps.tenants.models import SpareSchema


class Command(BaseCommand):
    help = (
        "Lists the pool of spare tenant schemas that sign-ups claim; --fill N makes spares "
        "until N are ready (beat keeps MYMEDIC_SPARE_SCHEMAS ready by itself)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fill", type=int, metavar="N", help="make spares until N are ready")
        parser.add_argument(
            "--method",
            choices=SpareSchema.Method.values,
            default=SpareSchema.Method.REPLAY,
            help="how to make them (the others are slower; kept to measure them)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["fill"] is not None:
            if options["method"] == SpareSchema.Method.REPLAY:
                spares.recipe()  # dumped and stored now if upkeep has not yet
            missing = max(0, options["fill"] - spares.ready().count())
            with tqdm(total=missing, desc="spare schemas", unit="schema", file=self.stderr) as bar:
                result = spare_schemas_top_up(
                    actor=None,
                    target=options["fill"],
                    method=options["method"],
                    progress=bar.update,
                )
            if result.skipped:
                self.stderr.write(f"made none: {result.skipped}")
        self.status()

    def status(self) -> None:
        digest, count = spares.code_migrations()
        unclaimed = SpareSchema.objects.filter(claimed_at__isnull=True).order_by("created_at")
        ready = [spare for spare in unclaimed if spare.migrations == digest]
        stale = [spare for spare in unclaimed if spare.migrations != digest]
        claimed = SpareSchema.objects.filter(claimed_at__isnull=False).count()
        self.stdout.write(
            f"ready {len(ready)} (target {settings.MYMEDIC_SPARE_SCHEMAS}), "
            f"behind the code {len(stale)}, claimed so far {claimed}; "
            f"code migrations {count} ({digest[:12]})"
        )
        for spare in [*ready, *stale]:
            state = "ready" if spare.migrations == digest else "behind the code"
            self.stdout.write(
                f"  {spare.schema_name}  {state:<15}  made {spare.created_at:%Y-%m-%d %H:%M:%S} "
                f"by {spare.method} in {spare.seconds * 1000:.0f} ms, "
                f"{spare.migration_count} migrations"
            )
