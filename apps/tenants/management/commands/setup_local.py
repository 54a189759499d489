import os
from typing import Any

from django.core.management.base import BaseCommand

from apps.tenants.demo import seed_demo_chain
from apps.tenants.schemas import migrate_all


class Command(BaseCommand):
    help = "Migrates every schema and seeds the demo chain when it is absent (safe to re-run)."

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = max(0, options["verbosity"] - 1)
        self.stdout.write("Migrating public schema, tenant template and tenants…")
        migrate_all(verbosity=verbosity)
        login = seed_demo_chain()
        state = "created" if login.created else "already there"
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo chain {state}: http://{login.domain}:{os.environ.get('PORT', '8000')}/login/"
            )
        )
        self.stdout.write(f"  sign in as {login.email} / {login.password}")
