"""`manage.py edge`: the edge nginx in front of every cell (mymedic/edge.py), kept current.

Writes nginx.conf and hosts.map from the settings and the directory, runs nginx in the
foreground as its child, and listens on the directory's NOTIFY channel: a change, once the
directory has been quiet for MYMEDIC_EDGE_DEBOUNCE_SECONDS (at most 5 s after the first),
rewrites hosts.map and reloads nginx by SIGHUP to its master's PID. A full re-read every 30 s
covers a notification lost while the directory's database was away. SIGTERM or SIGINT stop
nginx gracefully (SIGQUIT: requests in progress finish) and then the command.
"""

import logging
import os
import signal
import subprocess
import time
from argparse import ArgumentParser
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections

from apps.core.management.commands.proxy import local_dir, nginx_and_static
from apps.directory.router import directory_alias
from apps.directory.selectors import host_map
from mymedic.edge import edge_config, routing, write_host_map
from mymedic.proxy import write

logger = logging.getLogger("mymedic.edge")

CHANNEL = "mymedic_directory"
LONGEST_WAIT = 5.0  # seconds from the first change to the reload, however busy the directory
FULL_REFRESH = 30.0


def directory_conninfo() -> str:
    params = settings.DATABASES[directory_alias()]
    return psycopg.conninfo.make_conninfo(
        dbname=params["NAME"],
        user=params.get("USER") or None,
        password=params.get("PASSWORD") or None,
        host=params.get("HOST") or None,
        port=str(params["PORT"]) if params.get("PORT") else None,
    )


def refresh(directory: Path, nginx: subprocess.Popen[Any]) -> bool:
    """Rewrites hosts.map from the directory; reloads nginx when it changed."""
    try:
        pairs = host_map()
    finally:
        connections[directory_alias()].close()
    if not write_host_map(directory, pairs):
        return False
    os.kill(nginx.pid, signal.SIGHUP)  # nginx -s reload: new workers, old ones finish
    logger.info("edge reloaded hosts=%d", len(pairs))
    return True


class Command(BaseCommand):
    help = "Run the edge nginx (mymedic/edge.py) and reload it when the directory changes."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--port", type=int, required=True, help="where clients connect")
        parser.add_argument("--listen", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--dir", type=Path, help="pid, logs, map (.local/edge)")
        parser.add_argument("--write-only", action="store_true", help="print the file's path")

    def handle(self, *args: Any, **options: Any) -> None:
        nginx_bin, static_root = nginx_and_static()
        directory = (options["dir"] or local_dir() / "edge").resolve()
        config = edge_config(
            port=options["port"],
            directory=directory,
            static_root=static_root,
            listen=options["listen"],
        )
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        write_host_map(directory, host_map())
        path = write(config, routing(directory))
        if options["write_only"]:
            self.stdout.write(str(path))
            return
        nginx = subprocess.Popen([nginx_bin, "-c", str(path), "-g", "daemon off;"])  # noqa: S603
        stopping: list[int] = []

        def stop(signum: int, frame: FrameType | None) -> None:
            stopping.append(signum)
            if nginx.poll() is None:
                nginx.send_signal(signal.SIGQUIT)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            self.follow(directory, nginx, stopping)
        finally:
            if nginx.poll() is None:
                nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(30)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait()

    def follow(self, directory: Path, nginx: subprocess.Popen[Any], stopping: list[int]) -> None:
        """Reloads after each quiet period following directory changes, while nginx runs."""
        while nginx.poll() is None and not stopping:
            try:
                with psycopg.connect(directory_conninfo(), autocommit=True) as listener:
                    listener.execute(f"LISTEN {CHANNEL}")
                    refresh(directory, nginx)  # whatever changed while nobody listened
                    self.listen(listener, directory, nginx, stopping)
            except psycopg.Error as exc:
                logger.warning("edge: directory unreachable (%s); routing stays as it was", exc)
                time.sleep(1)

    def listen(
        self,
        listener: psycopg.Connection[Any],
        directory: Path,
        nginx: subprocess.Popen[Any],
        stopping: list[int],
    ) -> None:
        debounce = settings.MYMEDIC_EDGE_DEBOUNCE_SECONDS
        last_full = time.monotonic()
        while nginx.poll() is None and not stopping:
            if not list(listener.notifies(timeout=1.0, stop_after=1)):
                if time.monotonic() - last_full > FULL_REFRESH:
                    refresh(directory, nginx)
                    last_full = time.monotonic()
                continue
            first = time.monotonic()
            # Debounce: wait for a quiet spell (a burst of sign-ups is one reload).
            while time.monotonic() - first < LONGEST_WAIT:
                if not list(listener.notifies(timeout=debounce, stop_after=1)):
                    break
            refresh(directory, nginx)
            last_full = time.monotonic()
