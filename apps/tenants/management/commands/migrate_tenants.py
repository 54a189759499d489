import statistics
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apps.tenants import migrator


class Command(BaseCommand):
    help = (
        "Migrates the public schema, then the tenant template, the spare schemas and every "
        "tenant; resumable (schemas at the latest migrations are skipped in one query), one "
        "runner per schema at a time, a failing schema recorded and reported, not blocking."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--schemas", help="comma-separated schema names (default: every upkeep schema)"
        )
        parser.add_argument(
            "--retry-failed",
            action="store_true",
            help="also retry schemas whose migration failed for this same target",
        )
        parser.add_argument("--jobs", type=int, default=1, help="processes migrating at once")
        parser.add_argument(
            "--lock-wait",
            type=float,
            default=300.0,
            help="seconds to wait for a schema another runner is migrating",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["jobs"] < 1:
            raise CommandError("--jobs must be at least 1.")
        schemas = [s.strip() for s in (options["schemas"] or "").split(",") if s.strip()]
        verbosity = options["verbosity"]
        bar: tqdm[Any] | None = None

        def planned(count: int) -> None:
            nonlocal bar
            if count and verbosity:
                bar = tqdm(total=count, desc="migrating schemas", unit="schema", file=self.stderr)

        def progress(outcome: migrator.Outcome) -> None:
            if bar is not None:
                bar.set_postfix_str(f"{outcome.schema} {outcome.status}", refresh=False)
                bar.update()

        try:
            summary = migrator.run(
                schemas=schemas or None,
                retry_failed=options["retry_failed"],
                jobs=options["jobs"],
                lock_wait=options["lock_wait"],
                verbosity=max(0, verbosity - 1),
                planned=planned,
                progress=progress,
            )
        finally:
            if bar is not None:
                bar.close()
        if verbosity:
            self.report(summary, verbosity)
        summary.raise_for_failures()

    def report(self, summary: migrator.Summary, verbosity: int) -> None:
        migrated = summary.having("migrated")
        counts = ", ".join(
            f"{len(summary.having(status))} {status}"
            for status in ("migrated", "skipped", "failed", "gone")
            if summary.having(status)
        )
        self.stdout.write(
            f"{counts or 'nothing to do'}; {summary.applied} migration(s) applied "
            f"in {summary.seconds:.1f} s (target {summary.target[:12]})"
        )
        if migrated:
            seconds = [outcome.seconds for outcome in migrated]
            self.stdout.write(
                f"time per migrated schema: mean {statistics.fmean(seconds):.2f} s, "
                f"median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s"
            )
            if verbosity > 1:
                for outcome in migrated:
                    self.stdout.write(
                        f"  {outcome.schema}: {outcome.applied} in {outcome.seconds:.2f} s"
                    )
        for outcome in summary.having("failed"):
            # The error text may quote a row's values; shown on request only.
            detail = outcome.error if verbosity > 1 else outcome.error.split(":", 1)[0]
            self.stdout.write(self.style.ERROR(f"  failed {outcome.schema}: {detail}"))
