"""Write commands over the event log: the command decorator and the log's head."""

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import models, transaction

from apps.core.db import connection
from apps.eventstore.locks import holding_append_lock, in_callers_savepoint
from apps.eventstore.models import Event

P = ParamSpec("P")
R = TypeVar("R")


def command(func: Callable[P, R]) -> Callable[P, R]:
    """A write command: one transaction that takes the tenant's append lock first.

    Taking it before any row lock keeps lock order the same in every command (no deadlock
    between a command waiting for the append lock and one waiting for its rows). The command's
    transaction is also its unit of failure: saves and audit entries inside it skip their own
    savepoints and lock calls (see `locks.in_command`); and inside a caller's savepoint
    that is the unit of failure the command takes no savepoint either
    (`locks.callers_savepoint`).
    """

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        # Inside a caller's savepoint that is the unit of failure (`locks.callers_savepoint`)
        # a savepoint of the command's own would undo nothing more.
        with transaction.atomic(savepoint=not in_callers_savepoint()), holding_append_lock():
            return func(*args, **kwargs)

    return run


def head_position() -> int:
    """The latest committed position in this tenant's log (0 when empty)."""
    last = Event.objects.order_by("-position").values_list("position", flat=True).first()
    return last or 0


def take_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` ids from `model`'s id sequence in one statement, in ascending order, for rows
    that must be named before they are written (`AppendBatch`). One not used leaves a gap, as
    a rolled-back insert does."""
    if count == 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ARRAY(SELECT nextval(pg_get_serial_sequence(%s, %s))"
            " FROM generate_series(1, %s))",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        (ids,) = cursor.fetchone()
    return sorted(ids)
