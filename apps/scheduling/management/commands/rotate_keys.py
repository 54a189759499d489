from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context
from tqdm import tqdm

from apps.core.keys import rewrap_under_current_master
from apps.core.tenancy import tenant_schemas
from apps.scheduling import keyrotation
from apps.scheduling.models import Patient


class Command(BaseCommand):
    help = (
        "Key rotation without downtime. --master: re-wrap every tenant key with the current "
        "MYMEDIC_MASTER_KEY (the old one listed in MYMEDIC_MASTER_KEYS_RETIRED meanwhile). "
        "--tenant-key: give each tenant a new key and re-wrap its patients' keys under it. "
        "--retire: drop old tenant key versions that nothing uses any more."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", dest="tenants", metavar="SLUG")
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--master", action="store_true")
        what.add_argument("--tenant-key", action="store_true")
        what.add_argument("--retire", action="store_true")
        parser.add_argument("--batch", type=int, default=keyrotation.BATCH)

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = list(tenant_schemas(options["tenants"]))
        if options["tenants"] and len(tenants) != len(set(options["tenants"])):
            raise CommandError("Unknown tenant slug(s).")
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1.")
        for tenant in tenants:
            with schema_context(tenant.schema_name):
                if options["master"]:
                    changed = rewrap_under_current_master()
                    self.stdout.write(f"{tenant.slug}: {changed} key(s) re-wrapped")
                elif options["tenant_key"]:
                    total = Patient.objects.filter(wrapped_key__isnull=False).count()
                    with tqdm(total=total, desc=tenant.slug, disable=None) as bar:
                        rotation = keyrotation.rotate_tenant_key(
                            batch=options["batch"], progress=bar.update
                        )
                    self.stdout.write(
                        f"{tenant.slug}: key {rotation.version} active, "
                        f"{rotation.patients} patient(s) re-wrapped"
                    )
                else:
                    dropped, in_use = keyrotation.retire()
                    self.stdout.write(
                        f"{tenant.slug}: retired {dropped or 'none'}; "
                        f"still in use {in_use or 'none'}"
                    )
