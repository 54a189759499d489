"""The API's routes, found once per path and process.

Django matches a path against a URL conf's patterns in order, walking into each include and
raising and catching `Resolver404` for every one that does not match; the tenant URL conf is
long, and a warm API read spent a measurable part of its CPU finding its view
(docs/PERFORMANCE.md, Serving, Run 7). Which view a path reaches depends on the path alone:
the patterns are fixed once the URL conf is loaded, none under the API's prefix depends on
the active language, and a converter's answer depends only on the text it is given. So the
match found for a path is kept and handed back the next time that path is asked for.

Only matches are kept: a path that reaches no view is walked again every time, so a 404
stays a 404 and a converter that refuses a value refuses it every time. The keep is bounded
(a caller chooses the ids in its paths); when it is full the oldest path is dropped.
"""

import threading
from typing import Any

from django.urls import URLPattern, URLResolver
from django.urls.resolvers import ResolverMatch, RoutePattern

# More than the distinct API paths a web process serves in its busy minutes (a day, a board
# and a few lists per doctor and branch); a bound, not a target.
PATHS_KEPT = 4096


class RememberingResolver(URLResolver):
    """An include whose matches are kept by path (`remembered`)."""

    def __init__(self, prefix: str, patterns: list[URLPattern | URLResolver]) -> None:
        super().__init__(RoutePattern(prefix, is_endpoint=False), patterns)
        self._matches: dict[str, ResolverMatch] = {}
        self._lock = threading.Lock()

    def resolve(self, path: Any) -> ResolverMatch:
        path = str(path)  # as Django's own: a path may be a lazy string
        found = self._matches.get(path)
        if found is not None:
            return found
        found = super().resolve(path)  # Resolver404 when nothing matches: never kept
        with self._lock:  # another thread's insert would break the look for the oldest
            if len(self._matches) >= PATHS_KEPT:
                self._matches.pop(next(iter(self._matches)))
            self._matches[path] = found
        return found


def remembered(prefix: str, patterns: list[URLPattern | URLResolver]) -> RememberingResolver:
    """`path(prefix, include(patterns))`, whose matches are kept by path."""
    return RememberingResolver(prefix, patterns)
