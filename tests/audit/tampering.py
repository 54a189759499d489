"""What an attacker with database access does first: switch the append-only triggers off."""

from django.db import connection


def disable_triggers(table: str) -> None:
    """Disables the user triggers of `table` and of each of its partitions (a partitioned
    log carries its row triggers on every partition)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass",
            [table],
        )
        for name in [table, *(row[0] for row in cursor.fetchall())]:
            cursor.execute(f"ALTER TABLE {name} DISABLE TRIGGER USER")
