"""`manage.py mllp_listen`: the integration process (HL7 v2 over MLLP, see docs/INTEGRATION.md)."""

import asyncio
import os
from typing import Any

from django.core.management.base import BaseCommand

from apps.integration.commands import APPLY_BATCH
from apps.integration.listener import Listener, ListenerSettings


def settings_from_environment() -> ListenerSettings:
    env = os.environ
    return ListenerSettings(
        host=env.get("MYMEDIC_MLLP_HOST", "127.0.0.1"),
        port=int(env.get("MYMEDIC_MLLP_PORT", "2575")),
        max_bytes=int(env.get("MYMEDIC_MLLP_MAX_BYTES", str(1024 * 1024))),
        idle_seconds=float(env.get("MYMEDIC_MLLP_IDLE_SECONDS", "60")),
        queue_size=int(env.get("MYMEDIC_MLLP_QUEUE", "8")),
        workers=int(env.get("MYMEDIC_MLLP_WORKERS", "8")),
        batch=int(env.get("MYMEDIC_MLLP_BATCH", str(APPLY_BATCH))),
    )


class Command(BaseCommand):
    help = "Listens for HL7 v2 messages over MLLP, stores them, applies them and ACKs."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, help="overrides MYMEDIC_MLLP_PORT")

    def handle(self, *args: Any, **options: Any) -> None:
        settings = settings_from_environment()
        if options.get("port"):
            settings = ListenerSettings(**{**settings.__dict__, "port": options["port"]})
        listener = Listener(settings)
        self.stdout.write(f"mllp listening on {settings.host}:{settings.port}", ending="\n")
        self.stdout.flush()
        try:
            asyncio.run(listener.serve_forever())
        except KeyboardInterrupt:
            pass
        finally:
            listener.close()
