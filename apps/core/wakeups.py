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


def guarded(callback: Callable[[], object], what: str) -> None:
    """Runs `callback` now (e.g. queueing an email from a request that wrote nothing); an
    exception it raises is logged under `what` and goes no further."""
    try:
        callback()
    except Exception as exc:  # noqa: BLE001  (committed: the answer must not turn into a 5xx)
        logger.warning("wake-up failed (%s): %s", what, type(exc).__name__)
