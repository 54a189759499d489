from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.exports import archive
from apps.exports.commands import passphrase_problem
from apps.exports.management.commands.verify_export import passphrase_from
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Writes a tenant's whole record (events, audit trail, patients decrypted, appointments, "
        "invoices…) to an archive encrypted with a passphrase (age format), for operators. The "
        "passphrase comes from --passphrase-file or MYMEDIC_EXPORT_PASSPHRASE."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--passphrase-file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        passphrase = passphrase_from(options["passphrase_file"])
        if problem := passphrase_problem(passphrase):
            raise CommandError(problem)
        tenant = Tenant.objects.filter(slug=options["slug"]).first()
        if tenant is None:
            raise CommandError(f"No tenant {options['slug']}.")
        with schema_context(tenant.schema_name):
            built = archive.build(tenant.slug, passphrase)
        out: Path = options["out"]
        out.write_bytes(built.blob)
        out.chmod(0o600)
        counts = ", ".join(f"{name} {count}" for name, count in built.counts.items())
        self.stdout.write(self.style.SUCCESS(f"Wrote {out} ({len(built.blob)} bytes): {counts}."))
