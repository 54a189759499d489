"""The append-only event log of a tenant, and the model base whose saves append to it.

Ordering: every append first takes a transaction-scoped advisory lock for the tenant's
schema, so positions are handed out and committed in the same order. A reader that has seen
position N can never later find a committed event below N (see `store.append_lock`).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar, Protocol, Self

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.dispatch import Signal
from django_tenants.utils import schema_context

from apps.core.db import connection
from apps.core.errors import Conflict
from apps.core.wakeups import after_commit_once
from apps.eventstore.context import current_origin
from apps.eventstore.locks import append_lock, deferring, holding_append_lock, in_command


class Actor(Protocol):
    """Who runs a command: a staff user, a patient, or None for the system. Read-only, so
    a patient actor (a frozen value, `role` "patient") fits as well as a staff user."""

    @property
    def pk(self) -> Any: ...

    @property
    def role(self) -> str: ...


# Sent inside the appending transaction, so a listener's writes commit or roll back with it.
event_appended = Signal()


class AppendOnlyError(Exception):
    """Events and event-sourced rows change only through a save that appends an event."""


class Event(models.Model):
    position = models.BigAutoField(primary_key=True)
    stream = models.CharField(max_length=80)
    version = models.PositiveIntegerField()
    type = models.CharField(max_length=80)
    schema_version = models.PositiveSmallIntegerField(default=1)
    # Ids, times, amounts and codes only: never a patient's name, phone or birth date.
    data = models.JSONField(encoder=DjangoJSONEncoder)
    metadata = models.JSONField(encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "version"], name="event_stream_version"),
        ]
        indexes = [models.Index(fields=["type", "position"], name="event_type_position")]

    def __str__(self) -> str:
        return f"#{self.position} {self.type} {self.stream}@{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Events are never changed once appended.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Events are never deleted.")


class EventSourcedQuerySet(models.QuerySet):
    """Blocks the bulk writes that would change rows without appending events."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model.__name__} rows change only through commands.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{self.model.__name__} rows are never deleted.")

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model.__name__} rows change only through commands.")

    def bulk_create(self, *args: Any, **kwargs: Any) -> list[Any]:
        raise AppendOnlyError(f"{self.model.__name__} rows are created only through commands.")

    def update_or_create(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError(f"{self.model.__name__} rows change only through commands.")


@dataclass
class PendingEvent:
    type: str
    data: dict[str, Any]
    actor: Actor | None
    branch_id: int | None
    schema_version: int = 1
    extra_metadata: dict[str, Any] = field(default_factory=dict)


class EventSourcedModel(models.Model):
    """A model whose every save appends exactly one domain event, in the same transaction.

    Call `record(...)` and then `save()`; a save with nothing recorded is refused, and so
    are `delete()` and bulk `update()`/`delete()` on the manager.
    """

    version = models.PositiveIntegerField(default=0, editable=False)

    stream_type: ClassVar[str]
    objects = EventSourcedQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        pending: PendingEvent | None = getattr(self, "_pending_event", None)
        if pending is None:
            raise AppendOnlyError(
                f"{type(self).__name__}.save() needs an event: call record() first."
            )
        self.before_write()
        # Outside a command, savepoints let a caller recover from a refused save.
        own_savepoints = not in_command()
        with transaction.atomic(savepoint=own_savepoints):
            append_lock()
            self.version += 1
            super().save(*args, **kwargs)
            try:
                with transaction.atomic(savepoint=own_savepoints):
                    self.last_event = Event.objects.create(
                        stream=self.stream,
                        version=self.version,
                        type=pending.type,
                        schema_version=pending.schema_version,
                        data={"id": self.pk, **pending.data},
                        metadata=_metadata(pending, pending.branch_id or self.event_branch_id()),
                    )
            except IntegrityError as exc:
                # Optimistic concurrency: another save took this version of the stream first.
                self.version -= 1
                raise Conflict("This was changed meanwhile; reload it and try again.") from exc
            event_appended.send(sender=type(self), event=self.last_event)
            _project_after_commit()
        del self._pending_event

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{type(self).__name__} rows are never deleted.")

    def event_branch_id(self) -> int | None:
        """The branch an event of this row belongs to, for metadata and branch channels."""
        return getattr(self, "branch_id", None)

    def before_write(self) -> None:
        """What the row does to itself before it is written (a patient seals its personal
        fields); by `save()` and by `AppendBatch`."""

    def record(
        self,
        event_type: str,
        data: Mapping[str, Any] | None = None,
        *,
        actor: Actor | None,
        branch_id: int | None = None,
        schema_version: int = 1,
    ) -> Self:
        self._pending_event = PendingEvent(
            type=event_type,
            data=dict(data or {}),
            actor=actor,
            branch_id=branch_id,
            schema_version=schema_version,
        )
        return self

    @property
    def stream(self) -> str:
        return f"{self.stream_type}-{self.pk}"

    @property
    def position(self) -> int:
        """Event-log position of the last change this instance saved."""
        return self.last_event.position

    def history(self) -> models.QuerySet[Event]:
        return Event.objects.filter(stream=self.stream).order_by("version")


class AppendBatch:
    """Saves of event-sourced rows gathered, then written together in a few statements
    instead of three a save: the new rows of each model in one insert and the changed rows
    of each model in one update (models in the order they first appear, so a row may point
    at a row of a model that appears before it), then all the events in one insert, in the
    order the saves were made. The outcome is that of saving each in turn: the same
    versions, positions in that order (under the append lock), `event_appended` sent for
    each event in order, inside `locks.deferring()` (so the audit trail writes their entries
    in one insert); a row saved twice is written once, as it ended, with both its events.

    For a caller that makes many changes under the append lock and reads none of them back
    from the database before `write()` (the HL7 batch apply). A row changed meanwhile by
    someone else is caught as `save()` catches it: its event's version is taken (Conflict).
    A write that fails leaves its rows as the batch made them (versions counted on, events
    taken): the caller rolls back and reads them again."""

    def __init__(self) -> None:
        # Each save: the row, its event, and the version the event has.
        self.saves: list[tuple[EventSourcedModel, PendingEvent, int]] = []

    def save(self, row: EventSourcedModel) -> None:
        """`row.save()`, written at `write()`: takes the event recorded on the row."""
        event = getattr(row, "_pending_event", None)
        if event is None:
            raise AppendOnlyError(f"{type(row).__name__} is saved with an event: call record().")
        del row._pending_event
        row.version += 1
        self.saves.append((row, event, row.version))

    def write(self) -> None:
        if not self.saves:
            return
        saves, self.saves = self.saves, []
        with transaction.atomic(savepoint=not in_command()), holding_append_lock(), deferring():
            new: dict[type[EventSourcedModel], list[EventSourcedModel]] = {}
            changed: dict[type[EventSourcedModel], list[EventSourcedModel]] = {}
            for row in {id(row): row for row, _, _ in saves}.values():
                row.before_write()
                (new if row._state.adding else changed).setdefault(type(row), []).append(row)
            for model, group in new.items():
                # The plain manager: the model's own refuses bulk writes, which skip events.
                model._base_manager.bulk_create(group)
            for model, group in changed.items():
                _update_rows(model, group)
            events = [
                Event(
                    stream=row.stream,
                    version=version,
                    type=event.type,
                    schema_version=event.schema_version,
                    data={"id": row.pk, **event.data},
                    metadata=_metadata(event, event.branch_id or row.event_branch_id()),
                )
                for row, event, version in saves
            ]
            try:
                with transaction.atomic(savepoint=not in_command()):
                    Event.objects.bulk_create(events)
            except IntegrityError as exc:
                # Another save took one of these versions first (see `save()`).
                raise Conflict("This was changed meanwhile; reload it and try again.") from exc
            positions = [event.position for event in events]
            if positions != sorted(positions):
                raise RuntimeError("The events' positions are not in the order they were given.")
            for (row, _, _), event in zip(saves, events, strict=True):
                row.last_event = event
                event_appended.send(sender=type(row), event=event)
            _project_after_commit()


def _update_rows(model: type[EventSourcedModel], rows: list[EventSourcedModel]) -> None:
    """The rows' columns written in one UPDATE from a VALUES list (Django's bulk_update
    writes a CASE a field over every row)."""
    quote = connection.ops.quote_name
    pk = model._meta.pk
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(f"%s::{field.db_type(connection)}" for field in [pk, *fields])
    values: list[Any] = []
    for row in rows:
        values.append(row.pk)
        values += [
            field.get_db_prep_save(field.pre_save(row, False), connection) for field in fields
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(model._meta.db_table)} AS t"  # noqa: S608  (our table, placeholders)
            f" SET {', '.join(f'{quote(f.column)} = v.{quote(f.column)}' for f in fields)}"
            f" FROM (VALUES {', '.join([f'({placeholders})'] * len(rows))}) AS v(_pk, {columns})"
            f" WHERE t.{quote(pk.column)} = v._pk",
            values,
        )
        if cursor.rowcount != len(rows):
            raise RuntimeError(f"{model.__name__}: {len(rows) - cursor.rowcount} rows are gone.")


def _project_after_commit() -> None:
    """Asks for a projection run once the transaction commits. The callback runs at the
    outermost commit, maybe after the schema was switched back (onboarding, tasks): it must
    name this tenant's schema itself. Once a transaction: a batch that saves a hundred rows
    asks for one run."""
    schema = connection.schema_name
    after_commit_once(
        f"projection run {schema}", partial(_request_projection_run, schema), what="projection run"
    )


def _request_projection_run(schema: str) -> None:
    from apps.eventstore.tasks import request_projection_run  # tasks imports these models

    if connection.schema_name == schema:
        # Usually so: entering the same schema would make the next command set its search
        # path again (django-tenants forgets it on every switch), a round trip per command.
        request_projection_run()
        return
    with schema_context(schema):
        request_projection_run()


def _metadata(pending: PendingEvent, branch_id: int | None) -> dict[str, Any]:
    origin = current_origin()
    return {
        "actor_id": pending.actor.pk if pending.actor else None,
        "actor_role": pending.actor.role if pending.actor else "system",
        "branch_id": branch_id,
        "request_id": origin.request_id,
        "correlation_id": origin.correlation_id,
        "causation_id": origin.causation_id,
        **pending.extra_metadata,
    }


class ProjectionState(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PARKED = "parked", "Parked"

    name = models.CharField(max_length=80, primary_key=True)
    position = models.BigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    parked_position = models.BigIntegerField(null=True, blank=True)
    parked_type = models.CharField(max_length=80, blank=True)
    error = models.TextField(blank=True)
    parked_at = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "projection"

    def __str__(self) -> str:
        return f"{self.name} @ {self.position} ({self.status})"


class ProjectionSnapshot(models.Model):
    """A projection's read-model rows as of a position, so a rebuild can start there."""

    projection = models.CharField(max_length=80)
    position = models.BigIntegerField()
    rows = models.JSONField(encoder=DjangoJSONEncoder)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-position"]
        indexes = [models.Index(fields=["projection", "-position"], name="snapshot_latest")]

    def __str__(self) -> str:
        return f"{self.projection} @ {self.position}"


class ArchivedPartition(models.Model):
    """A month of a log (events or audit entries) that left the database for an archive file.

    Written once, by the archive (apps.archive), just before the detached partition is
    dropped: where the file is, its SHA-256, the rows and ids it holds and, for the audit
    trail, the chain's last hash in it: the checkpoint from which `verify_audit` goes on with
    the live rows. `mac` signs those facts with the audit anchor key (never in the database).
    """

    table = models.CharField(max_length=63)
    partition = models.CharField(max_length=63, unique=True)
    lower = models.DateTimeField(null=True)
    upper = models.DateTimeField()
    rows = models.BigIntegerField()
    first_id = models.BigIntegerField(null=True)
    last_id = models.BigIntegerField(null=True)
    last_hash = models.CharField(max_length=64, blank=True)
    path = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    mac = models.CharField(max_length=64)
    archived_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["table", "upper"]

    def __str__(self) -> str:
        return f"{self.partition} ({self.rows} rows)"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("An archived partition's record never changes.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("An archived partition's record is never deleted.")

    def signed_facts(self, schema: str) -> str:
        """What `mac` signs: the tenant, the partition, its rows, ids, file and chain head."""
        return "\0".join(
            str(value)
            for value in (
                schema, self.table, self.partition, self.rows, self.first_id, self.last_id,
                self.last_hash, self.sha256,
            )
        )  # fmt: skip


def archived_through(table: str) -> "ArchivedPartition | None":
    """The newest archived partition of `table` (its `last_id` is where the live log goes on)."""
    return ArchivedPartition.objects.filter(table=table).order_by("-upper").first()
