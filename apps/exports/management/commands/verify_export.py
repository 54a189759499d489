import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.exports.archive import ExportInvalid, verify


class Command(BaseCommand):
    help = (
        "Checks an export archive offline (no database): opens it with the passphrase and "
        "compares every file with the manifest (rows, bytes, SHA-256). The passphrase comes "
        "from --passphrase-file or the MYMEDIC_EXPORT_PASSPHRASE variable."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path)
        parser.add_argument("--passphrase-file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        passphrase = passphrase_from(options["passphrase_file"])
        try:
            manifest = verify(options["archive"].read_bytes(), passphrase)
        except (ExportInvalid, OSError) as exc:
            raise CommandError(str(exc)) from exc
        rows = ", ".join(
            f"{name.removesuffix('.ndjson')} {entry['rows']}"
            for name, entry in manifest["files"].items()
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"OK: {manifest['tenant']}, made {manifest['created']}; every file matches "
                f"the manifest ({rows})."
            )
        )


def passphrase_from(path: Path | None) -> str:
    if path is not None:
        return path.read_text().rstrip("\n")
    if given := os.environ.get("MYMEDIC_EXPORT_PASSPHRASE"):
        return given
    raise CommandError("Give the passphrase with --passphrase-file or MYMEDIC_EXPORT_PASSPHRASE.")
