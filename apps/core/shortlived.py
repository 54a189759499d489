"""Look-ups every request repeats (host → tenant, token → staff member, a doctor's or a
branch's row), kept in the process for at most a second.

Why a second in the process, and not Redis: a warm read then asks nothing of PostgreSQL or
Redis for who is asking and where, so an authenticated read costs about what a health check
costs. A change made anywhere (another web process, the admin, a SQL console) reaches every
process within `SECONDS` because each copy dies by then, with no message that could be lost
and no dependency on Redis being up. The process that makes a change forgets its own copies
at once (receivers of the models' save and delete signals call `forget_all`), so within a
process the effect is immediate. The price is one query per key, process and second, which a
busy key does not notice; a key asked for less than once a second gains nothing.

Only found rows are kept (a guessed token or host is looked up every time and fills
nothing), at most `size` keys per cache, each handed out as a copy so that a request that
sets an attribute on its row cannot leak it into another request; `shared` hands out the
kept value itself, for a value no request changes.
"""

import copy
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save

V = TypeVar("V")

# The bound on how long a revoked token, a deactivated user, a changed role or a removed
# domain can still be honoured by a process that did not make the change.
SECONDS = 1.0

_every: list["ShortLived[object]"] = []


class ShortLived(Generic[V]):
    """A process-local map whose entries live at most `SECONDS` (by the monotonic clock)."""

    def __init__(self, name: str, *, size: int = 10_000, seconds: float = SECONDS) -> None:
        self.name = name
        self.size = size
        self.seconds = seconds
        self._entries: dict[Hashable, tuple[float, V]] = {}
        self._lock = threading.Lock()
        _every.append(self)  # type: ignore[arg-type]

    def get(self, key: Hashable, load: Callable[[], V | None]) -> V | None:
        """A copy of the kept value, or `load()`'s (kept only when it found something)."""
        value = self.shared(key, load)
        return None if value is None else copy_of(value)

    def shared(self, key: Hashable, load: Callable[[], V | None]) -> V | None:
        """The kept value itself, not a copy, or `load()`'s (kept only when it found
        something): for a value that every request only reads, so that a warm request pays
        for no copy. A caller hands out a copy of any part a request may change."""
        now = time.monotonic()
        entry = self._entries.get(key)
        # A clock that went back (tests travel in time) makes an entry as good as expired.
        if entry is not None and 0 <= now - entry[0] < self.seconds:
            return entry[1]
        value = load()
        if value is None:
            self._entries.pop(key, None)
            return None
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.pop(next(iter(self._entries)), None)
            self._entries[key] = (now, value)
        return value

    def discard(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()


def copy_of(value: V) -> V:
    """`copy.copy`, without its detour through pickling for a model row: the row's fields and
    its state (with the cache of related rows loaded with it) copied, the related rows
    themselves shared, as Django's own `Model.__reduce__` copies them."""
    if not isinstance(value, Model):
        return copy.copy(value)
    clone = value.__class__.__new__(value.__class__)
    fields = value.__dict__.copy()
    state = copy.copy(value._state)
    state.fields_cache = state.fields_cache.copy()
    fields["_state"] = state
    clone.__dict__.update(fields)
    return clone


def forget_all(*_args: object, **_kwargs: object) -> None:
    """Forgets every kept look-up of this process (a signal receiver: a row changed here)."""
    for cache in _every:
        cache.forget()


def forget_on_change(*models: type[Model]) -> None:
    """Every save or delete of these models (and of their many-to-many links) in this process
    forgets the kept look-ups at once; other processes drop theirs within `SECONDS`."""
    for model in models:
        post_save.connect(forget_all, sender=model, weak=False)
        post_delete.connect(forget_all, sender=model, weak=False)
        for field in model._meta.many_to_many:
            through: Any = getattr(model, field.name).through
            m2m_changed.connect(forget_all, sender=through, weak=False)
