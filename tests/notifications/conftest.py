from pathlib import Path
from typing import Any

import pytest

from apps.notifications.backends import CHANNELS, FileBackend
from tests.notifications.backends import FlakyBackend
from tests.scheduling.conftest import doctor, monday_morning, patient

__all__ = ["doctor", "monday_morning", "patient"]


def use_backend(settings: Any, dotted: str, **options: Any) -> None:
    settings.MYMEDIC_NOTIFY_BACKENDS = {
        channel: {"class": dotted, "options": options} for channel in CHANNELS
    }


@pytest.fixture
def outbox(settings: Any, tmp_path: Path) -> FileBackend:
    """Every channel writes to a fresh folder; returns a reader of what was sent."""
    use_backend(settings, "apps.notifications.backends.FileBackend", directory=str(tmp_path))
    return FileBackend(tmp_path)


@pytest.fixture
def flaky(settings: Any, tmp_path: Path) -> type[FlakyBackend]:
    use_backend(settings, "tests.notifications.backends.FlakyBackend", directory=str(tmp_path))
    FlakyBackend.failures, FlakyBackend.permanent, FlakyBackend.calls = 0, False, 0
    return FlakyBackend


def sent_keys(outbox: FileBackend, channel: str = "sms") -> list[str]:
    return [record["key"] for record in outbox.sent(channel)]
