"""Read-model cache in Redis, keyed tenant → branch → (doctor, …), never stale.

Each branch has a generation number that the projection runner bumps after it commits a
change for that branch. Cached values live under the generation they were built in, so a
reader that starts after the bump can only find values built from the committed change;
older values are simply never asked for again and expire.

While Redis is unreachable, reads are built from the read-model tables in PostgreSQL and not
kept anywhere: a process-local copy could not see the generation bumps.
"""

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

from apps.core.counters import UNREACHABLE
from apps.eventstore.projections import Touched, after_run

logger = logging.getLogger(__name__)

TTL_SECONDS = 300


def _generation_key(branch_id: int) -> str:
    return f"rm:branch:{branch_id}:gen"  # the cache key function prefixes the tenant schema


def _key(branch_id: int, generation: str, parts: tuple[Any, ...]) -> str:
    return ":".join(["rm", "branch", str(branch_id), f"g{generation}", *map(str, parts)])


# The branch's generation and the value kept under it, in one round trip to Redis instead of
# two (the value's key names the generation). Both keys are the cache's own, so the script
# builds the value's key exactly as the cache key function would.
_READ_UNDER_GENERATION = """
local generation = redis.call('GET', KEYS[1]) or '0'
return {generation, redis.call('GET', ARGV[1] .. generation .. ARGV[2])}
"""


@functools.cache
def _script(client: Any) -> Any:
    return client.register_script(_READ_UNDER_GENERATION)


def _read(branch_id: int, parts: tuple[Any, ...]) -> tuple[str, Any]:
    """(generation, the value kept under it or None)."""
    backend: Any = getattr(cache, "client")  # noqa: B009  (django-redis; BaseCache has none)
    client = backend.get_client(write=False)
    head, tail = cache.make_key(_key(branch_id, "\0", parts)).split("\0")
    generation, raw = _script(client)(
        keys=[cache.make_key(_generation_key(branch_id))], args=[head, tail]
    )
    return generation.decode(), (None if raw is None else backend.decode(raw))


def cached(
    branch_id: int, parts: tuple[Any, ...], build: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    try:
        generation, value = _read(branch_id, parts)
    except UNREACHABLE as exc:
        logger.warning("read cache unreachable (%s); reading PostgreSQL", type(exc).__name__)
        return build()
    if value is None:
        value = build()
        _keep(_key(branch_id, generation, parts), value)
    return value


def cached_json(
    branch_id: int, parts: tuple[Any, ...], build: Callable[[], dict[str, Any]]
) -> bytes:
    """The read model as the API sends it: JSON encoded once per change, not per request.

    The same bytes DRF's JSON renderer makes of these plain values (compact, UTF-8).
    """
    parts = (*parts, "json")
    try:
        generation, body = _read(branch_id, parts)
    except UNREACHABLE as exc:
        logger.warning("read cache unreachable (%s); reading PostgreSQL", type(exc).__name__)
        return _encode(build())
    if body is None:
        body = _encode(build())
        _keep(_key(branch_id, generation, parts), body)
    return bytes(body)


def _encode(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _keep(key: str, value: Any) -> None:
    try:
        cache.set(key, value, TTL_SECONDS)
    except UNREACHABLE as exc:  # gone since the read: the next reader builds it again
        logger.warning("read cache unreachable (%s); not kept", type(exc).__name__)


@after_run
def bump_generations(touched: Touched, position: int) -> None:
    for branch_id in touched.branches:
        key = _generation_key(branch_id)
        if not cache.add(key, 1, timeout=None):
            cache.incr(key)
