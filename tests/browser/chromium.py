"""Real Chromium for the browser tests: Debian's binary, headless, against a real server."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from apps.tenants.models import Tenant
from tests import servers
from tests.clock import IST
from tests.clocked import clinic_time

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Screenshots of the screens the tests walk through (not committed).
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")


@contextmanager
def clinic_morning() -> Iterator[dict[str, str]]:
    """10:00 tomorrow in Mumbai, ticking on, in this process: a whole clinic day ahead,
    whatever the hour the test runs. Yields the environment that puts a server started
    meanwhile (`chromium_and_server(**env)`) on the same clock."""
    tomorrow = datetime.now(IST).date() + timedelta(days=1)
    with clinic_time(datetime.combine(tomorrow, time(10), tzinfo=IST)) as env:
        yield env


@contextmanager
def chromium_and_server(**env: str) -> Iterator[tuple[Browser, int]]:
    """Chromium and a daphne serving the project on the test database (its port).

    Playwright runs an event loop in this thread: every database call of a test's set-up
    happens before this is entered."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with servers.asgi_server(**env) as port, sync_playwright() as play:
        chromium = play.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield chromium, port
        finally:
            chromium.close()


@contextmanager
def tenant_site(
    tenant: Tenant, django_db_blocker: Any, **env: str
) -> Iterator[tuple[Browser, str]]:
    """Chromium and the tenant's site on a real server (its base URL)."""
    # Playwright runs an event loop in this thread: every database call happens before it.
    with django_db_blocker.unblock(), chromium_and_server(**env) as (chromium, port):
        yield chromium, f"http://{tenant.slug}.localhost:{port}"
