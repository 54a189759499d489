"""Read-mostly work reads from the streaming standby when one is configured (the `replica`
database alias, MYMEDIC_REPLICA_URL), and from the primary otherwise.

The API is one context manager, `reading_from_replica()`: inside it the ORM's reads go to the
standby (`ReplicaRouter.db_for_read`) and raw SQL takes `read_connection()`. It is explicit on
purpose: only work that tolerates reading a few seconds into the past opts in (reports,
exports), never a request that must read its own writes.

- *Never a write on the standby.* The connection is opened with
  `default_transaction_read_only=on` (and a standby refuses writes anyway); the router never
  sends a write there, and a write attempted inside `reading_from_replica()` raises
  `WriteWhileReadingReplica` rather than going anywhere: the block declared its work
  read-only, so a write in it is a mistake to fix, not to route.
- *The tenant's schema.* django-tenants sets the `search_path` on the default connection; the
  router gives the standby's connection the same tenant before each read, so a tenant reads
  its own rows there too.
- *A standby too far behind* (more than MYMEDIC_REPLICA_MAX_LAG_SECONDS, judged by
  `pg_last_xact_replay_timestamp()` while WAL is still waiting to be replayed) or unreachable
  is not used: the block reads from the primary, and the fallback is counted for `/metrics`
  (`mymedic_replica_fallbacks_total{reason}`).
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, cast

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import Model
from django_redis import get_redis_connection
from django_tenants.postgresql_backend.base import DatabaseWrapper
from redis.exceptions import RedisError

from apps.core.db import connection

logger = logging.getLogger("mymedic.replica")

REPLICA = "replica"
FALLBACKS_KEY = "mymedic:replica:fallbacks"
READ_ONLY_OPTIONS = "-c default_transaction_read_only=on"

# Seconds the standby is behind: 0 when it has replayed all the WAL it received (an idle
# primary sends nothing new, however old the last replayed commit is).
LAG = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
    ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
END
"""

# The alias reads go to inside `reading_from_replica()`; None outside it.
_reading: ContextVar[str | None] = ContextVar("reading_from_replica", default=None)


class WriteWhileReadingReplica(RuntimeError):
    """A write was attempted inside `reading_from_replica()`."""


def replica_configured() -> bool:
    return REPLICA in connections.settings


def replica_lag_seconds() -> float:
    """How far the standby is behind the primary it streams from, in seconds."""
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(LAG)
        row = cursor.fetchone()
    return float(row[0]) if row else 0.0


def count_fallback(reason: str) -> None:
    try:
        get_redis_connection("default").hincrby(FALLBACKS_KEY, reason, 1)
    except (RedisError, OSError):
        logger.debug("replica fallback not counted: Redis unreachable")


def fallback_counts() -> dict[str, int]:
    try:
        raw = get_redis_connection("default").hgetall(FALLBACKS_KEY)
    except (RedisError, OSError):
        return {}
    return {key.decode(): int(value) for key, value in raw.items()}


def _usable_replica() -> str:
    """The alias to read from: the standby unless it is missing, unreachable or too late."""
    if not replica_configured():
        return DEFAULT_DB_ALIAS
    try:
        behind = replica_lag_seconds()
    except DatabaseError as error:
        connections[REPLICA].close()
        logger.warning("standby unreachable (%s); reading from the primary", type(error).__name__)
        count_fallback("unavailable")
        return DEFAULT_DB_ALIAS
    if behind > settings.MYMEDIC_REPLICA_MAX_LAG_SECONDS:
        logger.warning("standby %.1f s behind; reading from the primary", behind)
        count_fallback("lag")
        return DEFAULT_DB_ALIAS
    return REPLICA


def _with_tenant(alias: str) -> DatabaseWrapper:
    """The connection of `alias`, on the default connection's tenant schema."""
    target = cast(DatabaseWrapper, connections[alias])
    if alias != DEFAULT_DB_ALIAS and (
        target.schema_name != connection.schema_name
        or target.include_public_schema != connection.include_public_schema
    ):
        target.set_tenant(connection.tenant, connection.include_public_schema)
    return target


@contextmanager
def reading_from_replica() -> Iterator[str]:
    """Reads inside go to the standby when one is configured and close enough, else to the
    primary; yields the alias chosen. Writes inside raise `WriteWhileReadingReplica`."""
    alias = _reading.get() or _usable_replica()
    token = _reading.set(alias)
    try:
        yield alias
    finally:
        _reading.reset(token)


def read_connection() -> DatabaseWrapper:
    """The connection for raw SQL reads: the standby's inside `reading_from_replica()` (on the
    current tenant's schema), else the default one."""
    return _with_tenant(_reading.get() or DEFAULT_DB_ALIAS)


class ReplicaRouter:
    """Reads inside `reading_from_replica()` go to the alias it chose; nothing is ever
    written to, or migrated on, the standby."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        alias = _reading.get()
        if alias is None:
            return None
        _with_tenant(alias)
        return alias

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        if _reading.get() is not None:
            raise WriteWhileReadingReplica(
                f"a write of {model._meta.label} inside reading_from_replica(): "
                "writes belong outside the read-only block"
            )
        instance = hints.get("instance")
        if instance is not None and instance._state.db == REPLICA:
            return DEFAULT_DB_ALIAS  # a row read from the standby is saved on the primary
        return None

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db == REPLICA else None


def replica_metric_lines() -> list[str]:
    """For `/metrics`: the standby's lag (when one is configured) and the fallbacks counted."""
    lines = [
        "# HELP mymedic_replica_fallbacks_total Reads meant for the standby that went to the "
        "primary (standby too far behind, or unreachable).",
        "# TYPE mymedic_replica_fallbacks_total counter",
        *(
            f'mymedic_replica_fallbacks_total{{reason="{reason}"}} {count}'
            for reason, count in sorted(fallback_counts().items())
        ),
    ]
    if replica_configured():
        try:
            behind = f"{replica_lag_seconds():.3f}"
        except DatabaseError:
            connections[REPLICA].close()
            behind = "NaN"
        lines += [
            "# HELP mymedic_replica_lag_seconds How far the standby's replay is behind.",
            "# TYPE mymedic_replica_lag_seconds gauge",
            f"mymedic_replica_lag_seconds {behind}",
        ]
    return lines
