from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django_tenants.utils import schema_context

from apps.core.tenancy import tenant_schemas
from apps.eventstore.models import ProjectionState
from apps.eventstore.projections import catch_up, lag, retry


class Command(BaseCommand):
    help = "Lists projections per tenant (position, lag, parked events) and retries parked ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", dest="tenants", metavar="SLUG")
        parser.add_argument("--parked", action="store_true", help="only parked projections")
        parser.add_argument("--retry", metavar="NAME", help="retry this parked projection")

    def handle(self, *args: Any, **options: Any) -> None:
        for tenant in tenant_schemas(options["tenants"]):
            with schema_context(tenant.schema_name):
                if options["retry"]:
                    if not ProjectionState.objects.filter(
                        name=options["retry"], status=ProjectionState.Status.PARKED
                    ).exists():
                        continue
                    retry(options["retry"])
                    result = catch_up([options["retry"]])[options["retry"]]
                    outcome = "parked again" if result.parked else "caught up"
                    self.stdout.write(
                        f"{tenant.slug}/{options['retry']}: {outcome} at {result.position}"
                    )
                    continue
                states = {s.name: s for s in ProjectionState.objects.all()}
                for name, row in lag().items():
                    state = states.get(name)
                    if options["parked"] and row["status"] != ProjectionState.Status.PARKED:
                        continue
                    line = (
                        f"{tenant.slug}/{name}: position {row['position']} of {row['head']} "
                        f"(lag {row['lag']}) {row['status']}"
                    )
                    if state is not None and state.status == ProjectionState.Status.PARKED:
                        line += f" at #{state.parked_position} {state.parked_type}: {state.error}"
                    self.stdout.write(line)
