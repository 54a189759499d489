"""`manage.py bus_webhook --name NAME --url URL`: an outbound webhook channel fed from the
event bus (a durable JetStream consumer named NAME). SIGTERM stops it after the event in hand."""

import asyncio
import os
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.eventbus.messages import SUBJECT_PREFIX
from apps.eventbus.webhooks import Channel, WebhookConsumer


class Command(BaseCommand):
    help = "Deliver the event bus's events to a webhook endpoint, in order per tenant."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="channel (durable consumer) name")
        parser.add_argument("--url", required=True, help="the endpoint events are POSTed to")
        parser.add_argument(
            "--subjects",
            default=f"{SUBJECT_PREFIX}.>",
            help="subject filter, e.g. mymedic.events.in.acme.> for one tenant",
        )
        parser.add_argument("--bus", default="", help="NATS URL (default MYMEDIC_EVENT_BUS)")
        parser.add_argument(
            "--token-env",
            default="",
            help="name of the environment variable holding the endpoint's bearer token",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["bus"] or settings.MYMEDIC_EVENT_BUS
        if not url.startswith("nats://"):
            raise CommandError("bus_webhook reads a NATS JetStream bus: set MYMEDIC_EVENT_BUS.")
        token = os.environ.get(options["token_env"], "") if options["token_env"] else ""
        if options["token_env"] and not token:
            raise CommandError(f"{options['token_env']} is empty.")
        channel = Channel(
            name=options["name"], url=options["url"], subjects=options["subjects"], token=token
        )
        consumer = WebhookConsumer(channel, [s for s in url.split(",") if s])

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            self.stdout.write(f"webhook {channel.name}: delivering")
            self.stdout.flush()
            await consumer.run(stop)

        asyncio.run(main())
