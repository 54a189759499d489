import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.tenants.moves import tenant_arrival


class Command(BaseCommand):
    help = (
        "In the cell a tenant just moved to (tenant_move runs it there): verifies its audit "
        "trail and sealed patient data, catches its read models up, renews its read cache and "
        "restarts its warehouse export. Prints the findings as one JSON line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            found = tenant_arrival(actor=None, slug=options["slug"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(json.dumps(found))
