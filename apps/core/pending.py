"""A tenant task asked for by every change, run once: requests made while one is pending
coalesce on a per-schema cache flag, which the run releases as it starts."""

import logging
from dataclasses import dataclass

from celery import Task
from django.core.cache import cache
from django_redis import get_redis_connection

from apps.core.counters import UNREACHABLE

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingRun:
    key: str  # the cache key function scopes it to the schema
    seconds: int  # how long a flag lives when no run releases it
    what: str  # the run, in the log's words

    def release(self) -> None:
        """Called as the run starts, so a change committed during the run asks for another."""
        try:
            cache.delete(self.key)
        except UNREACHABLE as exc:  # it expires by itself; the run must go on
            logger.warning("%s pending flag not released: %s", self.what, type(exc).__name__)

    def request(self, task: Task) -> None:
        """Queues `task` unless a run is pending. Never raises: when Redis or the broker
        cannot take the request the flag is not left set (it would swallow the next requests)
        and the periodic safety net catches the tenant up later."""
        try:
            if not cache.add(self.key, 1, timeout=self.seconds):
                return
        except UNREACHABLE as exc:
            logger.warning("%s not requested: %s", self.what, type(exc).__name__)
            return
        try:
            task.delay()
        except Exception as exc:  # noqa: BLE001  (broker down or refusing)
            logger.warning("%s not requested: %s", self.what, type(exc).__name__)
            self.release()


def forget_in_every_schema(key: str, what: str) -> int:
    """Deletes `key` under every schema's prefix (the cache key function puts the schema
    first), for a worker that starts and knows no run of its own is in hand. Never raises:
    with Redis away the keys expire by themselves. Returns how many were deleted."""
    try:
        client = get_redis_connection("default")
        stale = list(client.scan_iter(match=f"*:{key}", count=1000))
        if stale:
            client.delete(*stale)
        return len(stale)
    except UNREACHABLE as exc:
        logger.warning("%s not cleared at start: %s", what, type(exc).__name__)
        return 0
