"""After-commit wake-ups never turn a committed write into an error answer."""

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from apps.core.wakeups import after_commit, guarded

APPS = Path(__file__).resolve().parents[2] / "apps"


def test_every_after_commit_callback_in_the_apps_goes_through_the_guard() -> None:
    unguarded = [
        f"{path.relative_to(APPS.parent)}:{number}"
        for path in sorted(APPS.rglob("*.py"))
        if path.name != "wakeups.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"\bon_commit\(", line)
    ]

    assert unguarded == []


def _broker_down() -> None:
    raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_a_failing_wake_up_is_logged_and_the_commit_stands(
    db: None, django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        after_commit(_broker_down, what="projection run")
        after_commit(lambda: ran.append("next"), what="dispatch")

    assert ran == ["next"]  # one failed wake-up does not stop the others
    logged = [r for r in caplog.records if r.name == "apps.core.wakeups"]
    assert [(r.levelno, r.getMessage()) for r in logged] == [
        (logging.WARNING, "wake-up failed (projection run): ConnectionError")
    ]


def test_a_wake_up_run_at_once_is_guarded_too(caplog: pytest.LogCaptureFixture) -> None:
    guarded(_broker_down, what="password reset email")

    assert "wake-up failed (password reset email)" in caplog.text
