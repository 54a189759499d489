"""Projections: read models built from the event log, exactly once, in position order.

A projection names the event types it handles and the read-model tables it owns. The
runner applies a batch of events and moves the projection's tracked position in the same
transaction, so a crashed or repeated run never applies an event twice or loses one. An
event whose handler fails parks that projection (for that tenant only) at that event,
with the error, until it is retried; every other projection and tenant keeps running.
"""

import logging
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db import models, transaction
from django.utils import timezone

from apps.core.db import connection
from apps.eventstore.models import Event, ProjectionState

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 500


@dataclass
class Touched:
    """What a run changed, for cache invalidation and live pushes after it commits."""

    branches: set[int] = field(default_factory=set)

    def branch(self, branch_id: int | None) -> None:
        if branch_id is not None:
            self.branches.add(branch_id)


class Projection:
    name: ClassVar[str]
    handles: ClassVar[frozenset[str]]
    read_models: ClassVar[tuple[type[models.Model], ...]]

    def apply(self, event: Event, touched: Touched) -> None:
        raise NotImplementedError

    def apply_batch(self, events: list[Event], touched: Touched) -> None:
        """Applies several events at once; override where folding them is faster."""
        for event in events:
            self.apply(event, touched)

    def reset(self) -> None:
        """Empties the read model, ready for a rebuild from position 0."""
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in self.read_models)
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables}")  # noqa: S608  (table names from the models)


_registry: dict[str, Projection] = {}
_after_run_hooks: list[Callable[[Touched, int], None]] = []
_announce_hooks: list[Callable[[Touched, int], None]] = []
_left_behind_hooks: list[Callable[[], None]] = []


def register(projection: Projection) -> Projection:
    _registry[projection.name] = projection
    return projection


def unregister(name: str) -> None:
    _registry.pop(name, None)


def projections(names: Iterable[str] | None = None) -> list[Projection]:
    if names is None:
        return list(_registry.values())
    unknown = set(names) - set(_registry)
    if unknown:
        raise KeyError(f"Unknown projection(s): {', '.join(sorted(unknown))}")
    return [_registry[name] for name in names]


def after_run(hook: Callable[[Touched, int], None]) -> Callable[[Touched, int], None]:
    """Registers `hook(touched, position)` to run after a run that changed something commits."""
    _after_run_hooks.append(hook)
    return hook


def announce(hook: Callable[[Touched, int], None]) -> Callable[[Touched, int], None]:
    """Registers `hook(touched, position)` to run after every `after_run` hook: by then the
    read caches have moved on, so whoever hears the announcement and reads finds the change."""
    _announce_hooks.append(hook)
    return hook


def when_left_behind(hook: Callable[[], None]) -> Callable[[], None]:
    """Registers `hook()` for a run that finds, after letting go of a projection, events it
    did not apply: another run skipped that projection while this one held it and counted
    on this one. The hook asks for another run (queued behind other tenants' work) rather
    than this run chasing a busy tenant's log for as long as it keeps growing."""
    _left_behind_hooks.append(hook)
    return hook


@dataclass
class RunResult:
    applied: int = 0
    position: int = 0
    parked: bool = False
    more: bool = False
    held: bool = False  # False when another run held the projection (it catches up)
    touched: Touched = field(default_factory=Touched)


def run_batch(projection: Projection, batch_size: int = DEFAULT_BATCH) -> RunResult:
    """Applies the next batch of events to one projection, in one transaction."""
    result = RunResult()
    locked = ProjectionState.objects.select_for_update(skip_locked=True)
    while True:
        with transaction.atomic():
            state = locked.filter(name=projection.name).first()
            if state is not None:
                return _run_locked(projection, state, batch_size, result)
            missing = not ProjectionState.objects.filter(name=projection.name).exists()
        if not missing:  # another worker holds it; that run will catch up
            return result
        # The projection's first run in this schema (or its row was removed): the row is
        # made on its own, so a run that dies leaves it there; then it is locked as usual.
        ProjectionState.objects.get_or_create(name=projection.name)


def _run_locked(
    projection: Projection, state: ProjectionState, batch_size: int, result: RunResult
) -> RunResult:
    """The run itself, inside the transaction that holds the projection's state row."""
    result.held = True
    result.position = state.position
    if state.status == ProjectionState.Status.PARKED:
        result.parked = True
        return result
    batch = list(
        Event.objects.filter(position__gt=state.position)
        .defer("metadata")
        .order_by("position")[:batch_size]
    )
    handled = [event for event in batch if event.type in projection.handles]
    try:
        with transaction.atomic():
            projection.apply_batch(handled, result.touched)
        result.applied = len(handled)
        if batch:
            state.position = batch[-1].position
    except Exception:  # noqa: BLE001  (find the failing event, one at a time)
        result.touched = Touched()
        _apply_one_by_one(projection, state, batch, result)
    result.position = state.position
    result.more = len(batch) == batch_size and not result.parked
    state.save()
    return result


def _apply_one_by_one(
    projection: Projection, state: ProjectionState, batch: list[Event], result: RunResult
) -> None:
    for event in batch:
        if event.type in projection.handles:
            try:
                with transaction.atomic():
                    projection.apply(event, result.touched)
            except Exception as exc:  # noqa: BLE001  (any failure parks, whatever it is)
                _park(state, event, exc)
                result.parked = True
                return
            result.applied += 1
        state.position = event.position


def _park(state: ProjectionState, event: Event, exc: Exception) -> None:
    state.status = ProjectionState.Status.PARKED
    state.parked_position = event.position
    state.parked_type = event.type
    state.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
    state.parked_at = timezone.now()
    logger.error(
        "projection parked schema=%s projection=%s position=%s type=%s",
        connection.schema_name,
        state.name,
        event.position,
        event.type,
    )


def catch_up(
    names: Iterable[str] | None = None, batch_size: int = DEFAULT_BATCH
) -> dict[str, RunResult]:
    """Runs every (or the named) projection until it reaches the head or parks."""
    results = {}
    touched = Touched()
    head = 0
    # The positions of the projections that found themselves held by another run: that run
    # may have let go before seeing what was committed since (looked for once, below).
    held_at: list[int] = []
    for projection in projections(names):
        total = RunResult()
        while True:
            step = run_batch(projection, batch_size)
            total.applied += step.applied
            total.position = max(total.position, step.position)
            total.parked = step.parked
            touched.branches |= step.touched.branches
            if not step.more:
                break
        # A run that found this projection held while this one had it returned at once,
        # counting on this one: look for what was committed before it let go.
        if step.held and not step.parked:
            held_at.append(step.position)
        head = max(head, total.position)
        results[projection.name] = total
    if touched.branches:
        for hook in (*_after_run_hooks, *_announce_hooks):
            hook(touched, head)
    # One look for all of them, made after the last one let go: an event after the lowest
    # position is an event after one of them.
    if held_at and _has_events_after(min(held_at)):
        for behind_hook in _left_behind_hooks:
            behind_hook()
    return results


def _has_events_after(position: int) -> bool:
    return Event.objects.filter(position__gt=position).exists()


def retry(name: str) -> ProjectionState:
    """Un-parks a projection so its next run tries the parked event again."""
    with transaction.atomic():
        state = ProjectionState.objects.select_for_update().get(name=name)
        state.status = ProjectionState.Status.RUNNING
        state.parked_position = None
        state.parked_type = ""
        state.error = ""
        state.parked_at = None
        state.save()
    return state


def lag() -> dict[str, dict[str, Any]]:
    """Per projection: its position, the log head and the distance between them."""
    head = Event.objects.order_by("-position").values_list("position", flat=True).first() or 0
    states = {s.name: s for s in ProjectionState.objects.all()}
    report = {}
    for projection in projections():
        state = states.get(projection.name)
        position = state.position if state else 0
        report[projection.name] = {
            "position": position,
            "head": head,
            "lag": head - position,
            "status": state.status if state else ProjectionState.Status.RUNNING,
        }
    return report
