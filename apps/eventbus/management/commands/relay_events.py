"""`manage.py relay_events`: the event-bus relay process (Procfile `relay`, only when
MYMEDIC_EVENT_BUS is set). SIGTERM or Ctrl-C stops it after the batch in flight."""

import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.eventbus import relay
from apps.eventbus.publishers import publisher_for


class Command(BaseCommand):
    help = "Publish every committed event, in order per tenant, to the event bus."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bus", default="", help="bus URL (default MYMEDIC_EVENT_BUS)")
        parser.add_argument("--batch", type=int, default=relay.BATCH)
        parser.add_argument(
            "--rewind",
            metavar="SLUG:POSITION",
            help="publish the tenant's events after POSITION again (the running relay does it), "
            "then exit",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rewind"]:
            slug, _, position = options["rewind"].rpartition(":")
            if not slug or not position.isdigit():
                raise CommandError("--rewind takes SLUG:POSITION, e.g. acme:0")
            if not relay.rewind(slug, int(position)):
                raise CommandError(f"The relay has published nothing of {slug!r} yet.")
            self.stdout.write(f"relay: {slug} will be published again after {position}")
            return
        url = options["bus"] or settings.MYMEDIC_EVENT_BUS
        if not url:
            raise CommandError("No event bus: set MYMEDIC_EVENT_BUS (nats://… or kafka://…).")
        try:
            publisher = publisher_for(url)
        except ValueError as error:
            raise CommandError(str(error)) from error
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.stdout.write(f"relay: publishing to the event bus ({url.split(':')[0]})")
        if not settings.MYMEDIC_EVENT_BUS:
            self.stderr.write(
                "relay: MYMEDIC_EVENT_BUS is not set, so appends do not wake the relay unless "
                "their processes set it; it finds them every 5 s."
            )
        self.stdout.flush()
        try:
            relay.run(publisher, stop=stop, batch=options["batch"])
        finally:
            publisher.close()
