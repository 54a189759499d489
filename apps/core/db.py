"""The default connection, typed as django-tenants' schema-aware wrapper."""

from typing import cast

from django.db import connection as _connection
from django_tenants.postgresql_backend.base import DatabaseWrapper

connection = cast(DatabaseWrapper, _connection)


def release_connection() -> None:
    """Closes this context's connection (back to the pool) unless a transaction needs it.

    For long-lived requests (event streams) that would otherwise hold a connection until the
    client goes away; the next query, if any, takes one again.
    """
    if not connection.in_atomic_block:
        connection.close()
