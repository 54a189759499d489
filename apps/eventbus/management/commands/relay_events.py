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

    def handle(self, *args: Any, **options: Any) -> None:
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
        self.stdout.flush()
        try:
            relay.run(publisher, stop=stop, batch=options["batch"])
        finally:
            publisher.close()
