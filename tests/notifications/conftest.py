from pathlib import Path
from typing import Any

import pytest
import time_machine

from apps.notifications.backends import CHANNELS, FileBackend
from tests.notifications.backends import FlakyBackend


def use_backend(settings: Any, dotted: str, **options: Any) -> None:
    settings.MYMEDIC_NOTIFY_BACKENDS = {
        channel: {"class": dotted, "options": options} for channel in CHANNELS
    }


@pytest.fixture
def flaky(settings: Any, tmp_path: Path) -> type[FlakyBackend]:
    use_backend(settings, "tests.notifications.backends.FlakyBackend", directory=str(tmp_path))
    FlakyBackend.failures, FlakyBackend.permanent, FlakyBackend.calls = 0, False, 0
    return FlakyBackend


def sent_keys(outbox: FileBackend, channel: str = "sms") -> list[str]:
    return [record["key"] for record in outbox.sent(channel)]


@pytest.fixture(autouse=True)
def on_monday_morning(monday_morning: time_machine.Coordinates) -> None:
    """Every test here runs on the suite's frozen Monday morning (`tests/conftest.py`)."""
