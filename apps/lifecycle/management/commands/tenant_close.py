"""`manage.py tenant_close SLUG [--yes] [--erase-now]`: closes a tenant; erases it now or
when its grace ends (MYMEDIC_CLOSED_TENANT_ERASE_DAYS). Run again to finish an erasure that
was interrupted."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.lifecycle.commands import tenant_close
from apps.lifecycle.selectors import open_closure


class Command(BaseCommand):
    help = "Closes a tenant and erases it, now (--erase-now) or when its grace ends."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--yes", action="store_true", help="do not ask to type the slug to confirm"
        )
        parser.add_argument(
            "--erase-now", action="store_true", help="erase at once instead of after the grace"
        )
        parser.add_argument("--by", default="operator", help="who closes it (recorded)")
        parser.add_argument("--reason", default="", help="why (recorded)")

    def handle(self, *args: Any, **options: Any) -> None:
        slug: str = options["slug"]
        if not options["yes"]:
            resuming = open_closure(slug) is not None
            what = "erase" if options["erase_now"] or resuming else "close"
            typed = input(f"This will {what} {slug} for good. Type its slug to confirm: ")
            if typed.strip() != slug:
                raise CommandError("The slug typed does not match; nothing was done.")
        try:
            closure = tenant_close(
                actor=options["by"],
                slug=slug,
                reason=options["reason"],
                erase_now=options["erase_now"],
                progress=self.stdout.write,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if closure.erased_at is not None:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{slug}: erased at {closure.erased_at:%Y-%m-%d %H:%M:%S} UTC; "
                    f"closure record {closure.pk}, final audit head {closure.audit_head_sha256}"
                )
            )
