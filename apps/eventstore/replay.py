"""Rebuilding read models from the log: full replay, snapshots, and a side-by-side check."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from apps.core.db import connection
from apps.eventstore.models import (
    ArchivedPartition,
    Event,
    ProjectionSnapshot,
    ProjectionState,
    archived_through,
)
from apps.eventstore.projections import Projection, Touched

REPLAY_BATCH = 2000
Progress = Callable[[int], None]


def _apply_range(
    projection: Projection, after: int, until: int | None, progress: Progress | None
) -> int:
    """Applies every event after `after` (up to `until`) and returns the last position."""
    position = after
    touched = Touched()  # a rebuild pushes nothing live; the read model is swapped at commit
    while True:
        events = Event.objects.filter(position__gt=position).defer("metadata").order_by("position")
        if until is not None:
            events = events.filter(position__lte=until)
        batch = list(events[:REPLAY_BATCH])
        projection.apply_batch([e for e in batch if e.type in projection.handles], touched)
        if batch:
            position = batch[-1].position
            if progress:
                progress(len(batch))
        if len(batch) < REPLAY_BATCH:
            return position


def rebuild(
    projection: Projection,
    *,
    from_snapshot: bool = False,
    until: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Drops and rebuilds the read model in one transaction; readers see the old one until
    it commits. Returns the position it reached.

    Once old months of the log were archived, the rebuild starts from the newest snapshot,
    which the archive took at or past the archived events (a rebuild from nothing would
    miss them)."""
    archived = archived_through(Event._meta.db_table)
    floor = (archived.last_id or 0) if archived else 0
    with transaction.atomic():
        ProjectionState.objects.get_or_create(name=projection.name)
        state = ProjectionState.objects.select_for_update().get(name=projection.name)
        projection.reset()
        start = 0
        snapshot = _latest_snapshot(projection, until) if from_snapshot or floor else None
        if floor and (snapshot is None or snapshot.position < floor):
            raise RuntimeError(
                f"{projection.name}: events up to {floor} are archived and no snapshot covers "
                "them; restore the archive (docs/OPERATIONS.md) to rebuild from the start."
            )
        if snapshot is not None:
            _restore(projection, snapshot)
            start = snapshot.position
            if progress:
                progress(start)
        state.position = _apply_range(projection, start, until, progress)
        state.status = ProjectionState.Status.RUNNING
        state.parked_position, state.parked_type, state.error, state.parked_at = None, "", "", None
        state.save()
    return state.position


def snapshot(projection: Projection) -> ProjectionSnapshot:
    """Stores the read model's rows with the position they are current for."""
    with transaction.atomic():
        ProjectionState.objects.get_or_create(name=projection.name)
        state = ProjectionState.objects.select_for_update().get(name=projection.name)
        rows = {
            model._meta.label: list(model._default_manager.order_by("pk").values())
            for model in projection.read_models
        }
        return ProjectionSnapshot.objects.create(
            projection=projection.name, position=state.position, rows=rows
        )


def _latest_snapshot(projection: Projection, until: int | None) -> ProjectionSnapshot | None:
    snapshots = ProjectionSnapshot.objects.filter(projection=projection.name)
    if until is not None:
        snapshots = snapshots.filter(position__lte=until)
    return snapshots.order_by("-position").first()


def _restore(projection: Projection, snapshot: ProjectionSnapshot) -> None:
    for model in projection.read_models:
        rows = snapshot.rows.get(model._meta.label, [])
        model._default_manager.bulk_create([model(**row) for row in rows], batch_size=1000)


@dataclass(frozen=True)
class Difference:
    table: str
    only_live: int
    only_rebuilt: int


def check(projection: Projection, progress: Progress | None = None) -> list[Difference]:
    """Rebuilds into a scratch schema, up to the live position, and compares table by table.

    The scratch schema holds empty copies of the read-model tables and a view of the
    tenant's event log, and comes first in the search path, before the tenant's own schema:
    the projection writes its copies while whatever else it reads (the patients a name index
    is built from) is the tenant's, still under the tenant's name (sealed values and keys
    name their schema). Nothing live is written, and the whole schema is rolled back at the
    end.
    """
    schema = connection.schema_name
    scratch = f"replaycheck_{schema}"[:63]
    quote = connection.ops.quote_name
    tables = [m._meta.db_table for m in projection.read_models] + [ProjectionState._meta.db_table]
    live_position = (
        ProjectionState.objects.filter(name=projection.name)
        .values_list("position", flat=True)
        .first()
    ) or 0
    differences = []
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {quote(scratch)}")
            for table in tables:
                cursor.execute(
                    f"CREATE TABLE {quote(scratch)}.{quote(table)} "
                    f"(LIKE {quote(schema)}.{quote(table)} INCLUDING ALL)"
                )
            # The log, and what a rebuild after an archive starts from, seen from the scratch.
            for model in (Event, ArchivedPartition, ProjectionSnapshot):
                view = quote(model._meta.db_table)
                cursor.execute(
                    f"CREATE VIEW {quote(scratch)}.{view} AS "  # noqa: S608
                    f"SELECT * FROM {quote(schema)}.{view}"
                )
            # The connection stays the tenant's; django-tenants sets its search path once a
            # schema (TENANT_LIMIT_SET_CALLS), so this one holds until the schema is set again.
            cursor.execute(f"SET LOCAL search_path = {quote(scratch)}, {quote(schema)}, public")
            rebuild(projection, until=live_position, progress=progress)
            for table in tables[:-1]:
                live = f"{quote(schema)}.{quote(table)}"
                rebuilt = f"{quote(scratch)}.{quote(table)}"
                counts = []
                for left, right in ((live, rebuilt), (rebuilt, live)):
                    cursor.execute(
                        f"SELECT count(*) FROM "  # noqa: S608  (names from the models)
                        f"(SELECT * FROM {left} EXCEPT ALL SELECT * FROM {right}) AS d"
                    )
                    counts.append(cursor.fetchone()[0])
                if any(counts):
                    differences.append(Difference(table, counts[0], counts[1]))
            transaction.set_rollback(True)
    finally:
        connection.set_schema(schema)
    return differences
