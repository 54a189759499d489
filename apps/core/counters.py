"""Counters and throttle buckets that keep working while Redis is away.

Lock-outs and throttles count in the shared cache (Redis) so that every web process sees the
same numbers. When Redis cannot be reached, a request must not fail for it: each process then
counts in its own memory (the same tenant-scoped keys, the same windows) until Redis answers
again. Guessing stays bounded during an outage, per process instead of across them; the local
counts are not carried back to Redis when it returns (its own counts resume).

`counting_cache` is the one object lock-outs, sign-up and reset limits and DRF's throttles
read and write through.
"""

import logging
import threading
import time
from typing import Any

from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

try:  # django-redis wraps connection failures in its own exception type
    from django_redis.exceptions import ConnectionInterrupted

    UNREACHABLE: tuple[type[Exception], ...] = (RedisError, ConnectionInterrupted, OSError)
except ImportError:  # pragma: no cover  (another cache backend)
    UNREACHABLE = (RedisError, OSError)

# Log an outage once per this many seconds per process, not once per request.
_LOG_EVERY_SECONDS = 30.0


class FallbackCache:
    """The shared cache, or this process's memory while the shared cache is unreachable."""

    def __init__(self) -> None:
        self.local = LocMemCache(
            "counters-fallback",
            {"KEY_FUNCTION": "django_tenants.cache.make_key", "OPTIONS": {"MAX_ENTRIES": 50_000}},
        )
        self._last_logged = 0.0

    def _unreachable(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_logged >= _LOG_EVERY_SECONDS:
            self._last_logged = now
            logger.warning(
                "shared cache unreachable (%s: %s); counting in this process's memory",
                operation,
                type(exc).__name__,
            )

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return cache.get(key, default)
        except UNREACHABLE as exc:
            self._unreachable("get", exc)
            return self.local.get(key, default)

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        try:
            cache.set(key, value, timeout)
        except UNREACHABLE as exc:
            self._unreachable("set", exc)
            self.local.set(key, value, timeout)

    def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
        try:
            return bool(cache.add(key, value, timeout))
        except UNREACHABLE as exc:
            self._unreachable("add", exc)
            return self.local.add(key, value, timeout)

    def incr(self, key: str, delta: int = 1) -> int:
        """Raises ValueError when the key is absent (expired), like Django's caches."""
        try:
            return int(cache.incr(key, delta))
        except UNREACHABLE as exc:
            self._unreachable("incr", exc)
            return self.local.incr(key, delta)

    def delete(self, key: str) -> None:
        try:
            cache.delete(key)
        except UNREACHABLE as exc:
            self._unreachable("delete", exc)
        self.local.delete(key)  # a count kept during an outage must not outlive a success

    def ttl(self, key: str) -> int | None:
        """Seconds the key has left; None when unknown."""
        ttl = getattr(cache, "ttl", None)  # django-redis knows; other caches do not
        if ttl is None:
            return None
        try:
            left = ttl(key)
        except UNREACHABLE as exc:
            self._unreachable("ttl", exc)
            return None
        return int(left) if left else None


counting_cache = FallbackCache()


def take(key: str, seconds: int, amount: int = 1) -> int:
    """Counts `amount` more in `key`'s window of `seconds` (opened by the first count); the
    count.

    An open window costs one round trip (the increment); opening one, two."""
    try:
        return counting_cache.incr(key, amount)
    except ValueError:  # no window open
        pass
    if counting_cache.add(key, amount, timeout=seconds):
        return amount
    try:
        return counting_cache.incr(key, amount)  # another request opened it meanwhile
    except ValueError:  # and it expired already
        counting_cache.set(key, amount, timeout=seconds)
        return amount


class BatchedCounts:
    """Counts against a limit in the shared cache, adding this process's counts in batches.

    A busy caller's every request would otherwise pay a round trip to Redis (a third of a warm
    read's time). Here a process admits up to `batch` requests of a key on its own before it
    adds them to the shared count in one increment, and adds them at least every
    `SYNC_SECONDS`; within `batch` of the limit it counts every request in Redis, so one
    process alone is exact at the limit. The error is bounded: across processes at most
    `batch` (1 % of the limit) more per process and window than the limit, and a window that
    Redis has closed is noticed by a process within `SYNC_SECONDS`. A small limit (under 200)
    has a batch of one: exactly the shared count, as `take`.
    """

    SYNC_SECONDS = 1.0
    SHARE = 100  # the batch is the limit's hundredth
    SIZE = 10_000

    def __init__(self) -> None:
        # (schema, key) → [admitted here but not yet counted, shared count at the last
        # increment, monotonic time of the last increment]
        self._local: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, seconds: int, limit: int) -> bool:
        """Whether one more request of `key` stays within `limit` per window of `seconds`."""
        batch = max(1, limit // self.SHARE)
        slot = (str(getattr(connection, "schema_name", "")), key)  # as the cache key function
        now = time.monotonic()
        with self._lock:
            state = self._local.get(slot)
            if (
                state is not None
                and state[0] + 1 < batch
                and now - state[2] < self.SYNC_SECONDS
                and state[1] + state[0] + 1 <= limit - batch
            ):
                state[0] += 1
                return True
            pending = int(state[0]) if state is not None else 0
            self._local.pop(slot, None)
        count = take(key, seconds, pending + 1)
        with self._lock:
            if len(self._local) >= self.SIZE:
                self._local.pop(next(iter(self._local)), None)
            self._local[slot] = [0, count, now]
        return count <= limit

    def clear(self) -> None:
        """Forgets this process's uncounted requests (a test whose Redis was emptied)."""
        with self._lock:
            self._local.clear()
