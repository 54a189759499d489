"""Read-model cache in Redis, keyed tenant → branch → (doctor, …), never stale.

Each branch has a generation number that the projection runner bumps after it commits a
change for that branch. Cached values live under the generation they were built in, so a
reader that starts after the bump can only find values built from the committed change;
older values are simply never asked for again and expire.
"""

from collections.abc import Callable
from typing import Any

from django.core.cache import cache

from apps.eventstore.projections import Touched, after_run

TTL_SECONDS = 300


def _generation_key(branch_id: int) -> str:
    return f"rm:branch:{branch_id}:gen"  # the cache key function prefixes the tenant schema


def cached(
    branch_id: int, parts: tuple[Any, ...], build: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    generation = cache.get(_generation_key(branch_id), 0)
    key = ":".join(["rm", "branch", str(branch_id), f"g{generation}", *map(str, parts)])
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, TTL_SECONDS)
    return value


@after_run
def bump_generations(touched: Touched, position: int) -> None:
    for branch_id in touched.branches:
        key = _generation_key(branch_id)
        if not cache.add(key, 1, timeout=None):
            cache.incr(key)
