"""The analytical warehouse: facts without PHI, in a ClickHouse-compatible columnar store.

One interface, two backends, the same SQL:
- `chdb://PATH` (default): chDB, ClickHouse in-process; no server. Its files belong to one
  process at a time, so each use opens it under a file lock and closes it again.
- `clickhouse://HOST:PORT` (or `clickhouses://`): a ClickHouse server via clickhouse-connect.

Each tenant gets its own database (`t_<schema>`): tenants never share a table. Facts are
time-partitioned by month; `money_monthly` is the rollup the chain analytics read.
"""

import fcntl
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS {db}.appointments (
        appointment_id UInt64, branch_id UInt64, doctor_id UInt64, date Date,
        status LowCardinality(String), fee Decimal(14, 2), position UInt64
    ) ENGINE = ReplacingMergeTree(position) PARTITION BY toYYYYMM(date)
    ORDER BY (branch_id, date, appointment_id)""",
    """CREATE TABLE IF NOT EXISTS {db}.money (
        position UInt64, kind LowCardinality(String), branch_id UInt64, date Date,
        method LowCardinality(String), amount Decimal(14, 2)
    ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(date)
    ORDER BY (branch_id, date, position)""",
    """CREATE TABLE IF NOT EXISTS {db}.daily_closes (
        branch_id UInt64, date Date, bookings UInt32, cancellations UInt32, no_shows UInt32,
        completed UInt32, expected Decimal(14, 2), net Decimal(14, 2),
        variance Decimal(14, 2), status LowCardinality(String), version UInt64
    ) ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(date)
    ORDER BY (branch_id, date)""",
    """CREATE TABLE IF NOT EXISTS {db}.money_monthly (
        branch_id UInt64, month Date, kind LowCardinality(String), method LowCardinality(String),
        amount Decimal(18, 2), version UInt64
    ) ENGINE = ReplacingMergeTree(version) PARTITION BY toYear(month)
    ORDER BY (branch_id, month, kind, method)""",
]


def literal(value: Any) -> str:
    """A ClickHouse literal for the few kinds of value we send (no user-written SQL)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, date):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


class Backend(Protocol):
    def execute(self, sql: str) -> None: ...
    def insert_csv(self, table: str, columns: Sequence[str], data: str) -> None: ...
    def rows(self, sql: str) -> list[list[Any]]: ...


class EmbeddedBackend:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _session(self) -> Iterator[Any]:
        from chdb import session  # imported lazily: a large library, only for this backend

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.path}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            conn = session.Session(str(self.path))
            try:
                yield conn
            finally:
                conn.close()

    def execute(self, sql: str) -> None:
        with self._session() as conn:
            conn.query(sql)

    def execute_many(self, statements: Sequence[str]) -> None:
        with self._session() as conn:
            for sql in statements:
                conn.query(sql)

    def insert_csv(self, table: str, columns: Sequence[str], data: str) -> None:
        with self._session() as conn:
            conn.query(f"INSERT INTO {table} ({','.join(columns)}) FORMAT CSV\n{data}")

    def rows(self, sql: str) -> list[list[Any]]:
        with self._session() as conn:
            result = conn.query(sql, "JSONCompact")
            return list(json.loads(result.bytes() or b'{"data": []}')["data"])


class WarehouseUnavailable(Exception):
    """The warehouse server cannot be reached (down, refusing, or past its timeouts)."""


@contextmanager
def _reachable() -> Iterator[None]:
    from clickhouse_connect.driver.exceptions import OperationalError

    try:
        yield
    except (OperationalError, OSError) as exc:
        raise WarehouseUnavailable(f"warehouse unreachable: {exc}") from exc


class ServerBackend:
    def __init__(self, url: str) -> None:
        import clickhouse_connect

        parts = urlsplit(url)
        with _reachable():
            self.client = clickhouse_connect.get_client(
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 8123,
                username=parts.username or "default",
                password=parts.password or "",
                secure=parts.scheme == "clickhouses",
                # A warehouse that is down or hangs fails an export in bounded time (its cursor
                # has not moved, so the next export resumes) and an analytics request too.
                connect_timeout=5,
                send_receive_timeout=60,
            )

    def execute(self, sql: str) -> None:
        with _reachable():
            self.client.command(sql)

    def execute_many(self, statements: Sequence[str]) -> None:
        with _reachable():
            for sql in statements:
                self.client.command(sql)

    def insert_csv(self, table: str, columns: Sequence[str], data: str) -> None:
        with _reachable():
            self.client.raw_insert(table, list(columns), insert_block=data.encode(), fmt="CSV")

    def rows(self, sql: str) -> list[list[Any]]:
        with _reachable():
            return [list(row) for row in self.client.query(sql).result_rows]


def backend(url: str | None = None) -> EmbeddedBackend | ServerBackend:
    url = url or settings.MYMEDIC_WAREHOUSE_URL
    if url.startswith("chdb://"):
        return EmbeddedBackend(Path(url.removeprefix("chdb://")))
    if url.startswith(("clickhouse://", "clickhouses://")):
        return ServerBackend(url)
    raise ValueError(f"Unknown warehouse URL: {url}")


class TenantWarehouse:
    """The warehouse as one tenant sees it: its own database and nothing else."""

    def __init__(self, schema: str, store: EmbeddedBackend | ServerBackend | None = None) -> None:
        if not IDENTIFIER.match(schema):
            raise ValueError(f"Not a schema name: {schema}")
        self.db = f"t_{schema}"
        self.store = store or backend()

    def ensure_schema(self) -> None:
        self.store.execute_many(
            [f"CREATE DATABASE IF NOT EXISTS {self.db}"]
            + [ddl.format(db=self.db) for ddl in SCHEMA]
        )

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        values = ",".join("(" + ",".join(literal(v) for v in row) + ")" for row in rows)
        self.store.execute(f"INSERT INTO {self.db}.{table} ({','.join(columns)}) VALUES {values}")

    def insert_csv(self, table: str, columns: Sequence[str], data: str) -> None:
        if data:
            self.store.insert_csv(f"{self.db}.{table}", columns, data)

    def rows(self, sql: str) -> list[list[Any]]:
        return self.store.rows(sql.format(db=self.db))

    def run(self, statements: Sequence[str]) -> None:
        self.store.execute_many([sql.format(db=self.db) for sql in statements])
