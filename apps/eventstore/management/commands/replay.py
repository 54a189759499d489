from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context
from tqdm import tqdm

from apps.core.tenancy import tenant_schemas
from apps.eventstore import replay
from apps.eventstore.models import Event
from apps.eventstore.projections import projections


class Command(BaseCommand):
    help = (
        "Drops and rebuilds read models from the event log (all tenants and projections unless "
        "named). --check rebuilds into a scratch copy and reports differences instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", dest="tenants", metavar="SLUG")
        parser.add_argument("--projection", action="append", dest="names", metavar="NAME")
        parser.add_argument("--check", action="store_true", help="compare, change nothing")
        parser.add_argument(
            "--from-snapshot", action="store_true", help="start from the latest snapshot"
        )
        parser.add_argument(
            "--snapshot", action="store_true", help="store a snapshot after rebuilding"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            chosen = projections(options["names"])
        except KeyError as exc:
            raise CommandError(str(exc)) from exc
        tenants = list(tenant_schemas(options["tenants"]))
        if options["tenants"] and len(tenants) != len(set(options["tenants"])):
            raise CommandError("Unknown tenant slug(s).")
        differences = 0
        for tenant in tenants:
            with schema_context(tenant.schema_name):
                total = Event.objects.count()
                for projection in chosen:
                    label = f"{tenant.slug}/{projection.name}"
                    with tqdm(total=total, desc=label, unit="ev", file=self.stderr) as bar:
                        if options["check"]:
                            found = replay.check(projection, progress=bar.update)
                            differences += len(found)
                            for diff in found:
                                self.stdout.write(
                                    self.style.ERROR(
                                        f"{label}: {diff.table} differs — {diff.only_live} rows "
                                        f"only live, {diff.only_rebuilt} only in the rebuild"
                                    )
                                )
                            continue
                        position = replay.rebuild(
                            projection, from_snapshot=options["from_snapshot"], progress=bar.update
                        )
                        if options["snapshot"]:
                            replay.snapshot(projection)
                    self.stdout.write(f"{label}: rebuilt to position {position}")
        if options["check"]:
            if differences:
                raise CommandError(f"{differences} read model(s) differ from a rebuild.")
            self.stdout.write(self.style.SUCCESS("Every read model matches a rebuild."))
