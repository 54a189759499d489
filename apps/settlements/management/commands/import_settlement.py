from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import get_tenant_model, tenant_context

from apps.core.errors import DomainError
from apps.settlements import commands


class Command(BaseCommand):
    help = (
        "Imports a Razorpay settlement report (--kind gateway, the default) or a bank "
        "statement (--kind bank) into one clinic. Idempotent: importing again books nothing "
        "twice. Runs as the system; the file's import is in the event log and the audit trail."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--tenant", required=True, metavar="SLUG")
        parser.add_argument("--kind", choices=["gateway", "bank"], default="gateway")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        tenant = get_tenant_model().objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No clinic {options['tenant']}.")
        run = (
            commands.gateway_file_import
            if options["kind"] == "gateway"
            else commands.bank_statement_import
        )
        with tenant_context(tenant):
            try:
                result = run(actor=None, raw=path.read_bytes(), name=path.name)
            except DomainError as exc:
                problems = getattr(exc, "errors", {}).get("rows") or [exc.message]
                raise CommandError("; ".join(problems)) from exc
        if result.already_imported:
            self.stdout.write(f"{path.name} was imported before; nothing changed.")
            return
        counts = ", ".join(f"{n} {status}" for status, n in sorted(result.counts.items()))
        self.stdout.write(
            f"{result.new_rows} new row(s) of {result.rows} ({counts or 'none new'}), "
            f"{result.skipped} skipped; {result.exceptions} new exception(s)."
        )
