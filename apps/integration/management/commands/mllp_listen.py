"""`manage.py mllp_listen`: the integration process (HL7 v2 over MLLP, see docs/INTEGRATION.md)."""

import argparse
import asyncio
import os
from dataclasses import replace
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.integration.commands import APPLY_BATCH
from apps.integration.listener import Listener, ListenerSettings
from apps.integration.supervisor import Supervisor

MAX_PROCESSES = 64


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
        parser.add_argument(
            "--processes",
            type=int,
            help="listener processes sharing the port (overrides MYMEDIC_MLLP_PROCESSES, "
            "default 1)",
        )
        parser.add_argument(
            "--no-applier",
            action="store_true",
            help="no applier process: the listeners apply commit-ACKed messages themselves "
            "(as MYMEDIC_MLLP_APPLIER=0)",
        )
        # Set by the supervisor for its children: the listening socket they inherit, and
        # whether an applier runs beside them.
        parser.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
        parser.add_argument("--applier-running", action="store_true", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        settings = settings_from_environment()
        if options.get("port"):
            settings = replace(settings, port=options["port"])
        processes = options.get("processes") or int(os.environ.get("MYMEDIC_MLLP_PROCESSES", "1"))
        if not 1 <= processes <= MAX_PROCESSES:
            raise CommandError(f"--processes is 1 to {MAX_PROCESSES}.")
        applier = not options.get("no_applier") and os.environ.get("MYMEDIC_MLLP_APPLIER") != "0"
        if (processes > 1 or applier) and options.get("listen_fd") is None:
            self.stdout.write(
                f"mllp listening on {settings.host}:{settings.port} ({processes} processes"
                f"{', with an applier' if applier else ''})"
            )
            self.stdout.flush()
            Supervisor(
                host=settings.host, port=settings.port, processes=processes, applier=applier
            ).run()
            return
        if options.get("listen_fd") is not None:
            settings = replace(
                settings,
                listen_fd=options["listen_fd"],
                defer_enhanced=bool(options.get("applier_running")),
            )
        listener = Listener(settings)
        if settings.listen_fd is None:
            self.stdout.write(f"mllp listening on {settings.host}:{settings.port}")
            self.stdout.flush()
        try:
            asyncio.run(listener.serve_forever())
        except KeyboardInterrupt:
            pass
        finally:
            listener.close()
