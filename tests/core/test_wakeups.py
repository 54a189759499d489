"""After-commit wake-ups never turn a committed write into an error answer."""

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from apps.core.wakeups import after_commit, after_commit_once, guarded
from apps.eventstore.locks import callers_savepoint, holding_append_lock
from apps.scheduling.commands import patient_register

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


def test_a_wake_up_asked_for_under_one_key_runs_once_a_commit(
    db: None, django_capture_on_commit_callbacks: Any
) -> None:
    ran: list[str] = []
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for n in range(3):
            after_commit_once("run t1", lambda n=n: ran.append(f"t1 {n}"), what="projection run")
        after_commit_once("run t2", lambda: ran.append("t2"), what="projection run")
    # The next commit asks again.
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        after_commit_once("run t1", lambda: ran.append("t1 again"), what="projection run")

    assert ran == ["t1 0", "t2", "t1 again"]


def test_a_wake_up_asked_for_in_a_savepoint_rolled_back_is_asked_for_again(
    db: None, django_capture_on_commit_callbacks: Any
) -> None:
    ran: list[str] = []
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        try:
            with transaction.atomic():
                after_commit_once("run", lambda: ran.append("undone"), what="projection run")
                raise RuntimeError("the savepoint rolls back")
        except RuntimeError:
            pass
        after_commit_once("run", lambda: ran.append("kept"), what="projection run")
        after_commit_once("run", lambda: ran.append("repeat"), what="projection run")

    assert ran == ["kept"]


def test_a_batch_of_commands_in_one_savepoint_asks_for_one_projection_run(
    tenant: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """As the HL7 apply runs a batch: commands under the append lock, in one savepoint of
    the caller's."""
    with (
        django_capture_on_commit_callbacks() as callbacks,
        holding_append_lock(),
        transaction.atomic(),
        callers_savepoint(),
    ):
        for n in range(3):
            patient_register(actor=None, name=f"Batch {n}", phone=f"+9198000000{n:02d}")

    assert [getattr(c, "what", None) for c in callbacks].count("projection run") == 1


def test_commands_each_in_its_own_savepoint_each_ask(
    tenant: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A test's transaction makes each command's block a savepoint of its own: each asks
    (a rollback of one must not take the others' wake-up with it)."""
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        for n in range(2):
            patient_register(actor=None, name=f"Own {n}", phone=f"+9198000001{n:02d}")

    assert [getattr(c, "what", None) for c in callbacks].count("projection run") == 2
