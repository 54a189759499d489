"""What the HL7 stores' partition tests ask PostgreSQL: which month holds a message, and which
months an UPDATE of one message by its id and month is planned on."""

from typing import Any

from apps.core.db import connection
from apps.core.partitions import MonthlyLog, partitions
from apps.integration.models import MonthPartitioned


def sql(statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def partitions_of(log: MonthlyLog) -> list[Any]:
    with connection.cursor() as cursor:
        return partitions(cursor, log)


def home_of(log: MonthlyLog, message: MonthPartitioned) -> str:
    rows = sql(
        f"SELECT tableoid::regclass::text FROM {log.table} WHERE id = %s",  # noqa: S608
        [message.pk],
    )
    return str(rows[0][0])


def months_an_update_scans(log: MonthlyLog, message: MonthPartitioned) -> set[str]:
    """The partitions PostgreSQL plans a status UPDATE of `message` on, by id and month."""
    plan = sql(
        f"EXPLAIN UPDATE {log.table} SET status = status "  # noqa: S608
        f"WHERE id = %s AND {log.key} = %s",
        [message.pk, getattr(message, log.key)],
    )
    return {p.name for p in partitions_of(log)} & {
        word for (line,) in plan for word in line.split()
    }
