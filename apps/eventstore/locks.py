"""The per-tenant lock that keeps event positions in commit order."""

from django.db import connection

# First key of the two-key advisory lock; the second is a hash of the tenant's schema.
APPEND_LOCK_CLASS = 0x4D594D44  # "MYMD"


def append_lock() -> None:
    """Serializes appends within the tenant until this transaction ends.

    Positions come from a sequence, and sequence values can commit out of order. Holding
    this lock from before the first append until commit means a later position is always
    committed later, so a reader following `position > last_seen` never skips an event.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("Events are appended inside a transaction.")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", [APPEND_LOCK_CLASS]
        )
