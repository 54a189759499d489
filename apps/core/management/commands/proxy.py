"""`manage.py proxy`: writes nginx's configuration from the settings, then becomes nginx.

The Procfile's `proxy` line runs it in front of the `web` line's gunicorn. Static files are
collected into MYMEDIC_STATIC_ROOT first (nginx serves them from there).
"""

import os
import shutil
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from mymedic.proxy import ProxyConfig, write


def local_dir() -> Path:
    return Path(os.environ.get("MYMEDIC_LOCAL_DIR") or settings.BASE_DIR / ".local")


def nginx_and_static() -> tuple[str, Path]:
    """nginx's binary and the static files it serves, collected and readable by its workers."""
    if not settings.STATIC_ROOT:
        raise CommandError("MYMEDIC_STATIC_ROOT must name the folder for /static/")
    nginx = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if nginx is None:
        raise CommandError("nginx is not installed; run 'scripts/local.sh system'")
    static_root = Path(settings.STATIC_ROOT).resolve()
    call_command("collectstatic", interactive=False, verbosity=0)
    static_root.chmod(0o755)
    return nginx, static_root


class Command(BaseCommand):
    help = "Write nginx's configuration (mymedic/proxy.py) and run nginx in the foreground."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--port", type=int, required=True, help="where clients connect")
        parser.add_argument("--upstream", required=True, help="host:port of the web server")
        parser.add_argument("--listen", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--dir", type=Path, help="pid, logs, temp files (.local/nginx)")
        parser.add_argument("--write-only", action="store_true", help="print the file's path")

    def handle(self, *args: Any, **options: Any) -> None:
        nginx, static_root = nginx_and_static()
        config = ProxyConfig(
            port=options["port"],
            upstream=options["upstream"],
            listen=options["listen"],
            directory=(options["dir"] or local_dir() / "nginx").resolve(),
            static_root=static_root,
        )
        path = write(config)
        if options["write_only"]:
            self.stdout.write(str(path))
            return
        os.execv(nginx, [nginx, "-c", str(path), "-g", "daemon off;"])  # noqa: S606
