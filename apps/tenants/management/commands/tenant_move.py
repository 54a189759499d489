from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.tenants.moves import tenant_move, tenant_move_recover


class Command(BaseCommand):
    help = (
        "Moves a tenant from this cell's database to another cell online (logical "
        "replication), pausing its writes only for the cut-over; verifies the copy, then "
        "drops the source's schema and public rows unless --keep-source. With --recover, "
        "finishes or undoes a move whose mover died."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--to", required=True, metavar="CELL|URL", help="a cell name or a database URL"
        )
        parser.add_argument(
            "--keep-source", action="store_true", help="keep the source's schema (paused)"
        )
        parser.add_argument(
            "--max-pause",
            type=float,
            default=5.0,
            metavar="SECONDS",
            help="abandon the move if the cut-over would pause writes longer (default 5)",
        )

        parser.add_argument(
            "--recover",
            action="store_true",
            help="finish or undo (from what the databases hold) a move whose mover died",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["recover"]:
            self.recover(options)
            return
        try:
            moved = tenant_move(
                actor=None,
                slug=options["slug"],
                to=options["to"],
                keep_source=options["keep_source"],
                max_pause=options["max_pause"],
                progress=self.stdout.write,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Moved {moved.slug} from {moved.source_cell} to {moved.target_cell}: "
                f"{moved.rows} rows in {moved.tables} tables, {moved.events} events; "
                f"writes paused {moved.pause_seconds * 1000:.0f} ms; {moved.seconds:.1f} s in all."
            )
        )

    def recover(self, options: dict[str, Any]) -> None:
        try:
            outcome = tenant_move_recover(
                actor=None,
                slug=options["slug"],
                to=options["to"],
                keep_source=options["keep_source"],
                progress=self.stdout.write,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Recovered the move of {options['slug']}: {outcome}.")
        )
