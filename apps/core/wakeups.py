"""After-commit wake-ups that never reach the response.

A command's transaction commits before its side effects run (a projection run, a message
dispatch, an email): once it has committed, the caller must be told it succeeded, whatever
happens to the wake-up. Redis (the Celery broker) may be down, a mail server may refuse; the
wake-up is then logged and lost, and the periodic sweeps find the work it was about (a
projection behind the log, a message due), so nothing is lost with it.

Every `transaction.on_commit` in the apps goes through `after_commit`
(`tests/core/test_wakeups.py` holds the code to that).
"""

import logging
from collections.abc import Callable
from functools import partial

from django.db import transaction

logger = logging.getLogger(__name__)


def after_commit(callback: Callable[[], object], *, what: str) -> None:
    """Runs `callback` once the current transaction commits (at once outside one); an
    exception it raises is logged under `what` and goes no further."""
    transaction.on_commit(partial(guarded, callback, what))


class _Once:
    """A wake-up that `after_commit_once` recognises among those already waiting."""

    def __init__(self, key: str, callback: Callable[[], object], what: str) -> None:
        self.key, self.callback, self.what = key, callback, what
        self.ran = False

    def __call__(self) -> None:
        self.ran = True
        guarded(self.callback, self.what)


def after_commit_once(key: str, callback: Callable[[], object], *, what: str) -> None:
    """`after_commit`, unless a wake-up under `key` already waits for this transaction's
    commit from under the same savepoints (a command that saves a hundred rows, or a batch
    of commands in one savepoint, asks once). Sound through savepoints: a rollback of any of
    them undoes both the work that asked first and the work asking now. One that ran
    already (a test's capture of the callbacks runs them without emptying the list) does
    not count."""
    connection = transaction.get_connection()
    here = set(connection.savepoint_ids)
    if connection.in_atomic_block and any(
        isinstance(waiting, _Once) and waiting.key == key and not waiting.ran and sids == here
        for sids, waiting, _ in connection.run_on_commit
    ):
        return
    transaction.on_commit(_Once(key, callback, what))


def guarded(callback: Callable[[], object], what: str) -> None:
    """Runs `callback` now (e.g. queueing an email from a request that wrote nothing); an
    exception it raises is logged under `what` and goes no further."""
    try:
        callback()
    except Exception as exc:  # noqa: BLE001  (committed: the answer must not turn into a 5xx)
        logger.warning("wake-up failed (%s): %s", what, type(exc).__name__)
