import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from apps.bench.simulate import SEGMENTS, simulate


class Command(BaseCommand):
    help = "Creates a tenant of a segment's size and plays one realistic day through the commands."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--segment", choices=sorted(SEGMENTS), required=True)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        segment = SEGMENTS[options["segment"]]
        visits = segment.branches * segment.doctors_per_branch * segment.visits_per_doctor
        started = time.perf_counter()
        with tqdm(total=visits, desc=options["segment"], unit="visit", file=self.stderr) as bar:
            tenant, done = simulate(segment, seed=options["seed"], progress=bar.update)
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"tenant {tenant.slug} ({tenant.domain_url or tenant.slug}) in {seconds:.1f} s"
        )
        for name, count in sorted(done.items()):
            self.stdout.write(f"  {name:12} {count}")
