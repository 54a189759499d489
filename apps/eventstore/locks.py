"""The per-tenant lock that keeps event positions in commit order."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

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


def _holder() -> tuple[int, str]:
    return id(connection.connection), connection.schema_name


def in_command() -> bool:
    """True inside a command that holds this tenant's append lock on this connection.

    There the command's transaction is the unit of failure: an error anywhere rolls all of
    it back, so the steps inside need no savepoints of their own.
    """
    return connection.in_atomic_block and _held.get() == _holder()


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
    block can release it; the marker is dropped when the block is left.
    """
    append_lock()
    token = _held.set(_holder())
    try:
        yield
    finally:
        _held.reset(token)
