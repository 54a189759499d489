import os
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from apps.tenants.commands import tenants_register_in_directory
from apps.tenants.demo import seed_demo_chain
from apps.tenants.schemas import migrate_all


class Command(BaseCommand):
    help = "Migrates every schema and seeds the demo chain when it is absent (safe to re-run)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--no-demo", action="store_true", help="migrate only (another cell has the demo)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = max(0, options["verbosity"] - 1)
        self.stdout.write("Migrating public schema, tenant template and tenants…")
        migrate_all(verbosity=verbosity)
        if added := tenants_register_in_directory():
            self.stdout.write(f"Recorded in the directory: {', '.join(added)}")
        if options["no_demo"]:
            return
        login = seed_demo_chain()
        state = "created" if login.created else "already there"
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo chain {state}: http://{login.domain}:{os.environ.get('PORT', '8000')}/login/"
            )
        )
        self.stdout.write(f"  sign in as {login.email} / {login.password}")
