"""The per-tenant lock that keeps event positions in commit order."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from apps.core.db import connection
from apps.core.errors import TenantMoving

# First key of the two-key advisory lock; the second is a hash of the tenant's schema.
APPEND_LOCK_CLASS = 0x4D594D44  # "MYMD"

# Takes the lock, then asks whether the tenant is paused for a move to another cell
# (apps.tenants.moves). One statement: the subquery is evaluated first, and the function's
# own query takes a fresh snapshot once the lock is granted (migration tenants.0004), so it
# sees a pause committed while this one waited. A move sets the pause, then takes this lock
# to wait out the commands in flight; every later one finds the tenant paused.
LOCK_AND_ASK = (
    "SELECT public.mymedic_tenant_moving()"
    " FROM (SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))) AS locked"
)

# (database connection, schema) whose append lock the running command holds.
_held: ContextVar[tuple[int, str] | None] = ContextVar("append_lock_held", default=None)
# (database connection, schema) where the caller's savepoint is the unit of failure of the
# commands it runs (`callers_savepoint`).
_unit: ContextVar[tuple[int, str] | None] = ContextVar("callers_savepoint", default=None)
# (database connection, schema) and what is kept for the length of its hold (`kept_while_held`).
_kept: ContextVar[tuple[tuple[int, str], dict[str, Any]] | None] = ContextVar(
    "kept_while_held", default=None
)


def _holder() -> tuple[int, str]:
    return id(connection.connection), connection.schema_name


def in_command() -> bool:
    """True inside a command that holds this tenant's append lock on this connection.

    There the command's transaction is the unit of failure: an error anywhere rolls all of
    it back, so the steps inside need no savepoints of their own.
    """
    return connection.in_atomic_block and _held.get() == _holder()


def in_callers_savepoint() -> bool:
    """True inside `callers_savepoint()` on this connection and tenant, within the append
    lock: a command run there takes no savepoint of its own."""
    return in_command() and _unit.get() == _holder()


@contextmanager
def callers_savepoint() -> Iterator[None]:
    """Marks the block as inside a savepoint (or transaction) of the caller's that is the
    unit of failure of every command run in it: an error in one of them rolls back to that
    savepoint, which the caller handles as one failure (the HL7 batch apply: the whole batch,
    or one message, into the error queue). So a command there takes no savepoint of its
    own, two statements it would otherwise send. Only inside `holding_append_lock()`; a
    caller that must recover from a command's error and go on inside the same savepoint
    must not use it."""
    if not in_command():
        raise RuntimeError("A caller's savepoint is the unit of failure only under the lock.")
    token = _unit.set(_holder())
    try:
        yield
    finally:
        _unit.reset(token)


def append_lock() -> None:
    """Serializes appends within the tenant until this transaction ends.

    Positions come from a sequence, and sequence values can commit out of order. Holding
    this lock from before the first append until commit means a later position is always
    committed later, so a reader following `position > last_seen` never skips an event.
    Inside a command that already holds it this costs nothing.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("Events are appended inside a transaction.")
    if in_command():
        return
    with connection.cursor() as cursor:
        cursor.execute(LOCK_AND_ASK, [APPEND_LOCK_CLASS])
        (moving,) = cursor.fetchone()
        if moving:
            raise TenantMoving()


@contextmanager
def holding_append_lock() -> Iterator[None]:
    """Takes the append lock for the rest of the enclosing atomic block and remembers it.

    The lock was taken at the start of that block, so no savepoint rolled back inside the
    block can release it; the marker is dropped when the block is left. The outermost hold
    on this connection and tenant starts what `kept_while_held` keeps; a nested one (a
    command inside the HL7 batch's hold) shares it.
    """
    outermost = not in_command()
    append_lock()
    token = _held.set(_holder())
    kept = _kept.set((_holder(), {})) if outermost else None
    try:
        yield
    finally:
        if kept is not None:
            _kept.reset(kept)
        _held.reset(token)


def kept_while_held() -> dict[str, Any] | None:
    """A dict that lives as long as the running command's hold of this tenant's append lock
    on this connection (the outermost `holding_append_lock`, so within one transaction), for
    what only the lock's holder can change (the audit trail's head); None outside a hold.

    A savepoint rolled back inside the hold does not clear it: whoever keeps something here
    checks it against the database whenever it is used to write."""
    if not in_command():
        return None
    kept = _kept.get()
    return kept[1] if kept is not None and kept[0] == _holder() else None


# Where `deferring` keeps what is deferred, in the dict `kept_while_held` gives.
_DEFERRED = "deferred"


@contextmanager
def deferring() -> Iterator[None]:
    """Inside the hold of the append lock: what a writer defers in the block (`deferred`) is
    written when the block ends, a statement per writer for all of it, in the order the
    writers first deferred; an error inside the block drops it (it was part of what failed).
    For many appends at once (`AppendBatch`): their audit entries go in one insert. Nested,
    the outermost block writes."""
    kept = kept_while_held()
    if kept is None:
        raise RuntimeError("Writes are deferred only under the append lock.")
    if _DEFERRED in kept:
        yield
        return
    pending: dict[str, tuple[Callable[[list[Any]], None], list[Any]]] = {}
    kept[_DEFERRED] = pending
    try:
        yield
    finally:
        del kept[_DEFERRED]
    for write, items in pending.values():
        write(items)


def deferred(key: str, write: Callable[[list[Any]], None]) -> list[Any] | None:
    """Inside `deferring()`, the list a writer adds what it defers under `key` to, written by
    `write(items)` when the block ends; None outside one (the writer writes at once)."""
    kept = kept_while_held()
    pending = kept.get(_DEFERRED) if kept is not None else None
    if pending is None:
        return None
    if key not in pending:
        pending[key] = (write, [])
    return pending[key][1]
