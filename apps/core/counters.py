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
import time
from typing import Any

from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
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


def take(key: str, seconds: int) -> int:
    """Counts one more in `key`'s window of `seconds` (opened by the first count); the count.

    An open window costs one round trip (the increment); opening one, two."""
    try:
        return counting_cache.incr(key)
    except ValueError:  # no window open
        pass
    if counting_cache.add(key, 1, timeout=seconds):
        return 1
    try:
        return counting_cache.incr(key)  # another request opened it meanwhile
    except ValueError:  # and it expired already
        counting_cache.set(key, 1, timeout=seconds)
        return 1
