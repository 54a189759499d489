"""Read-model cache in Redis, keyed tenant → branch → (doctor, …), never stale.

Each branch has a generation number that the projection runner bumps after it commits a
change for that branch. Cached values live under the generation they were built in, so a
reader that starts after the bump can only find values built from the committed change;
older values are simply never asked for again and expire.
"""

import json
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

from apps.eventstore.projections import Touched, after_run

TTL_SECONDS = 300


def _generation_key(branch_id: int) -> str:
    return f"rm:branch:{branch_id}:gen"  # the cache key function prefixes the tenant schema


def _key(branch_id: int, parts: tuple[Any, ...]) -> str:
    generation = cache.get(_generation_key(branch_id), 0)
    return ":".join(["rm", "branch", str(branch_id), f"g{generation}", *map(str, parts)])


def cached(
    branch_id: int, parts: tuple[Any, ...], build: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    key = _key(branch_id, parts)
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, TTL_SECONDS)
    return value


def cached_json(
    branch_id: int, parts: tuple[Any, ...], build: Callable[[], dict[str, Any]]
) -> bytes:
    """The read model as the API sends it: JSON encoded once per change, not per request.

    The same bytes DRF's JSON renderer makes of these plain values (compact, UTF-8).
    """
    key = _key(branch_id, (*parts, "json"))
    body = cache.get(key)
    if body is None:
        body = json.dumps(build(), ensure_ascii=False, separators=(",", ":")).encode()
        cache.set(key, body, TTL_SECONDS)
    return body


@after_run
def bump_generations(touched: Touched, position: int) -> None:
    for branch_id in touched.branches:
        key = _generation_key(branch_id)
        if not cache.add(key, 1, timeout=None):
            cache.incr(key)
