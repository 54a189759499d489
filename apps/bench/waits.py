"""What PostgreSQL's backends wait for while a part runs: a sampling profile of the database.

Every `interval` seconds a thread of its own asks `pg_stat_activity` what each active client
backend of this database is doing: running (no wait event) or waiting, and on what (a lock on
a row, a transaction or an advisory key, a lightweight lock, WAL, I/O). Many samples waiting
on one thing name what serializes the work; all of them running means the work is the CPU's.
"""

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connection

_SAMPLE = """
SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, 'running'), count(*)
FROM pg_stat_activity
WHERE datname = current_database() AND state = 'active' AND backend_type = 'client backend'
  AND pid <> pg_backend_pid()
GROUP BY 1
"""


@contextmanager
def wait_profile(interval: float = 0.01) -> Iterator[Counter[str]]:
    """Counts, over the block, the samples of each `type:event` of active backends."""
    counts: Counter[str] = Counter()
    done = threading.Event()

    def sample() -> None:
        try:
            while not done.wait(interval):
                with connection.cursor() as cursor:
                    cursor.execute(_SAMPLE)
                    for what, count in cursor.fetchall():
                        counts[what] += count
        finally:
            connection.close()

    sampler = threading.Thread(target=sample, name="wait-profile", daemon=True)
    sampler.start()
    try:
        yield counts
    finally:
        done.set()
        sampler.join(10)


def shares(counts: Counter[str], top: int = 6) -> dict[str, float]:
    """The most frequent states as shares of every sample."""
    total = sum(counts.values()) or 1
    return {what: round(count / total, 3) for what, count in counts.most_common(top)}


_COMMITS = """
SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
       wal_records, wal_write, wal_sync
FROM pg_stat_wal
"""


@contextmanager
def commits(units: int, settle: float = 11.0) -> Iterator[dict[str, float]]:
    """Over the block, per unit: the database's committed transactions, and the cluster's WAL
    records, writes and flushes (`pg_stat_wal`, the whole cluster: anything else running
    counts too, and each look is a commit). Filled in when the block ends, the last look
    after `settle` seconds: a backend that stays connected and idle hands in its counts
    within ten seconds (one that ends, at once)."""

    def read() -> tuple[int, ...]:
        # A connection of its own, outside any transaction of the caller's: inside one, the
        # statistics read are those of its start.
        params = connection.get_connection_params()
        with psycopg.connect(**params, autocommit=True) as own:
            row = own.execute(_COMMITS).fetchone()
        return tuple(row or ())

    counted: dict[str, float] = {}
    before = read()
    try:
        yield counted
    finally:
        time.sleep(settle)
        after = read()
        for name, old, new in zip(("commits", "wal_records", "wal_writes", "wal_flushes"),
                                  before, after, strict=True):  # fmt: skip
            counted[f"{name}_per_unit"] = round((new - old) / units, 2)
