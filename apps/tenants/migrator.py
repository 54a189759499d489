"""The resumable migration runner behind `manage.py migrate_tenants`.

It brings every schema of this database to the latest migrations: the public schema first
(the shared apps every tenant depends on), then the tenant template, the signup pool's spare
schemas and every tenant. Three properties make it fit for thousands of schemas:

- **A no-op is one query, not one migration executor per schema.** The target is the leaf
  migration of every app; one `UNION ALL` query counts, in each schema's `django_migrations`,
  how many of those leaves it has. A schema that has them all is at the target and is not
  visited. (A leaf is applied only after everything it depends on, so "every leaf" means
  "everything".)
- **Resumable.** Each schema's migrations commit as they go (one transaction per migration),
  and progress is kept per schema in `tenants.SchemaMigration` (public schema). A runner that
  is killed leaves at most one schema half-way (its last migration rolled back); the next run
  finds the schemas still behind with the same query and continues with them.
- **One runner per schema at a time.** A schema is migrated under a session advisory lock on
  its name; a second runner waits for it (up to `lock_wait` seconds), then finds the schema at
  the target and moves on. A runner that dies releases its locks with its connection.

A schema whose migration fails is recorded as failed with its error and the run goes on with
the others; `run` returns every outcome and the caller reports the failures. A later run
retries a failed schema only when asked (`retry_failed`) or when the target has changed.
"""

import hashlib
import io
import multiprocessing
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, TextIO

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, get_tenant_base_migrate_command_class
from psycopg import sql

from apps.core.db import connection
from apps.tenants import migrator_worker as worker
from apps.tenants.models import SchemaMigration, Tenant

# Advisory lock class of "this schema is being migrated" (two-key form: class, hashtext(schema)).
MIGRATION_LOCK_CLASS = 0x4D49474E  # "MIGN"
# Spare schemas of the signup pool: `spare_` and 12 lowercase hex digits.
SPARE_SCHEMA_PATTERN = "^spare_[0-9a-f]{12}$"
# Schemas per at-target query: one statement stays small enough to plan quickly.
CHECK_BATCH = 500
ERROR_CHARS = 4000

Status = SchemaMigration.Status


@dataclass(frozen=True)
class Target:
    """The latest migration of every app, and its digest (what the progress table records)."""

    leaves: tuple[tuple[str, str], ...]

    @property
    def digest(self) -> str:
        names = "\n".join(f"{app}.{name}" for app, name in self.leaves)
        return hashlib.sha256(names.encode()).hexdigest()


def migration_target() -> Target:
    """The leaf migrations on disk (no database access)."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    return Target(leaves=tuple(sorted(graph.leaf_nodes())))


@dataclass(frozen=True)
class Outcome:
    """What the run did to one schema: `migrated`, `skipped` (at the target already), `failed`
    or `gone` (the schema disappeared before its turn, e.g. a spare handed to a signup)."""

    schema: str
    status: str
    applied: int = 0
    seconds: float = 0.0
    error: str = ""


@dataclass
class Summary:
    target: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def having(self, status: str) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status == status]

    @property
    def failed(self) -> dict[str, str]:
        return {outcome.schema: outcome.error for outcome in self.having("failed")}

    @property
    def applied(self) -> int:
        return sum(outcome.applied for outcome in self.outcomes)

    def raise_for_failures(self) -> None:
        if self.failed:
            raise SchemasFailed(self.failed)


class SchemasFailed(CommandError):
    """Some schemas failed to migrate; every other schema was migrated."""

    def __init__(self, failed: dict[str, str]) -> None:
        self.failed = failed
        super().__init__(
            f"{len(failed)} schema(s) failed: {', '.join(sorted(failed))} (errors in the "
            "admin's Schema migrations, or rerun with -v 2); the others are migrated. Fix and "
            "rerun with --retry-failed."
        )


def upkeep_schemas() -> list[str]:
    """Every schema that must carry the tenant apps' tables, in the order they are migrated:
    the template (new tenants are cloned from it), the spare schemas, then the tenants."""
    public = get_public_schema_name()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = %s OR nspname ~ %s ORDER BY nspname",
            [settings.TENANT_BASE_SCHEMA, SPARE_SCHEMA_PATTERN],
        )
        found = [name for (name,) in cursor.fetchall()]
    pool = [name for name in found if name != settings.TENANT_BASE_SCHEMA]
    template = [name for name in found if name == settings.TENANT_BASE_SCHEMA]
    tenants = list(
        Tenant.objects.exclude(schema_name=public)
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )
    return template + pool + tenants


def create_template_schema() -> None:
    """The template is migrated like any schema; it must exist first."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}")
            .format(sql.Identifier(settings.TENANT_BASE_SCHEMA))
            .as_string(connection.connection)
        )


def existing_schemas(names: Iterable[str]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [list(names)])
        return {name for (name,) in cursor.fetchall()}


def schemas_at_target(schemas: Sequence[str], target: Target) -> set[str]:
    """Those of `schemas` whose `django_migrations` holds every leaf of `target`: one catalog
    query and one counting query per `CHECK_BATCH` schemas, whatever their number."""
    if not schemas:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'django_migrations' AND c.relkind IN ('r', 'p') "
            "AND n.nspname = ANY(%s)",
            [list(schemas)],
        )
        recorded = sorted(name for (name,) in cursor.fetchall())
        at_target: set[str] = set()
        apps = [app for app, _ in target.leaves]
        names = [name for _, name in target.leaves]
        raw = connection.connection
        for start in range(0, len(recorded), CHECK_BATCH):
            chunk = recorded[start : start + CHECK_BATCH]
            counts = sql.SQL(" UNION ALL ").join(
                sql.SQL(
                    "SELECT {label}::text, count(*) FROM {table} JOIN target USING (app, name)"
                ).format(
                    label=sql.Literal(schema), table=sql.Identifier(schema, "django_migrations")
                )
                for schema in chunk
            )
            query = sql.SQL(
                "WITH target (app, name) AS (SELECT * FROM unnest(%s::text[], %s::text[])) {counts}"
            ).format(counts=counts)
            cursor.execute(query.as_string(raw), [apps, names])
            at_target.update(
                schema for schema, count in cursor.fetchall() if count == len(target.leaves)
            )
    return at_target


def _lock(schema: str, wait_seconds: float) -> bool:
    """Takes the schema's migration lock for this session; False if another runner held it
    for `wait_seconds`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s))", [MIGRATION_LOCK_CLASS, schema]
        )
        if cursor.fetchone()[0]:
            return True
        cursor.execute("SET lock_timeout = %s", [f"{int(wait_seconds * 1000)}ms"])
        try:
            cursor.execute(
                "SELECT pg_advisory_lock(%s, hashtext(%s))", [MIGRATION_LOCK_CLASS, schema]
            )
        except OperationalError:
            return False
        finally:
            cursor.execute("RESET lock_timeout")
    return True


def _unlock(schema: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_unlock(%s, hashtext(%s))", [MIGRATION_LOCK_CLASS, schema]
        )


def _runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def _apply(schema: str, verbosity: int, output: TextIO) -> int:
    """Runs Django's `migrate` in `schema` (as django-tenants does, without closing the
    connection, which holds the lock); returns the number of migrations applied."""
    connection.set_schema(schema, include_public=False)
    recorder = MigrationRecorder(connection)
    # The schema's own django_migrations, not public's through the search path.
    recorder.ensure_schema()
    before = len(recorder.applied_migrations())
    try:
        connection.set_schema(schema)
        command = get_tenant_base_migrate_command_class()(stdout=output, stderr=output)
        call_command(command, interactive=False, verbosity=verbosity, skip_checks=True)
        connection.set_schema(schema, include_public=False)
        return len(recorder.applied_migrations()) - before
    finally:
        connection.set_schema_to_public()


def _record(schema: str, target: str, **fields: Any) -> None:
    connection.set_schema_to_public()
    if schema == get_public_schema_name() and not _progress_table_exists():
        return  # the public schema's first migration makes the table
    SchemaMigration.objects.update_or_create(
        schema=schema, defaults={"target": target, "runner": _runner_name(), **fields}
    )


def _progress_table_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('public.tenants_schemamigration') IS NOT NULL")
        return bool(cursor.fetchone()[0])


def migrate_schema(
    schema: str, target: Target, *, lock_wait: float = 300.0, verbosity: int = 0
) -> Outcome:
    """Brings one schema to `target` under its lock, recording progress; never raises for
    the schema's own failure (it is the outcome)."""
    digest = target.digest
    started = time.perf_counter()
    if not _lock(schema, lock_wait):
        # Not a failure of the schema: the next run tries it again without being asked.
        error = f"Another runner held this schema's lock for {lock_wait:g} s."
        _record(schema, digest, status=Status.PENDING, error=error, applied=0)
        return Outcome(schema, "failed", error=error)
    try:
        if schema not in existing_schemas([schema]):
            if Tenant.objects.filter(schema_name=schema).exists():
                error = "The tenant's schema does not exist."
                _record(schema, digest, status=Status.FAILED, error=error, applied=0)
                return Outcome(schema, "failed", error=error)
            SchemaMigration.objects.filter(schema=schema).delete()
            return Outcome(schema, "gone")
        if schema in schemas_at_target([schema], target):  # another runner did it meanwhile
            _record(schema, digest, status=Status.DONE, error="", applied=0)
            return Outcome(schema, "skipped")
        _record(
            schema,
            digest,
            status=Status.RUNNING,
            error="",
            applied=0,
            started_at=timezone.now(),
            finished_at=None,
            seconds=None,
        )
        # Django's migrate prints what it applies; shown when asked (-v 3 on the command).
        output: TextIO = sys.stdout if verbosity > 1 else io.StringIO()
        try:
            applied = _apply(schema, verbosity, output)
        except Exception as error:  # noqa: BLE001 - the schema's error boundary
            seconds = time.perf_counter() - started
            if not connection.is_usable():
                connection.close()  # the lock went with the session
            text = f"{type(error).__name__}: {error}"[:ERROR_CHARS]
            _record(
                schema,
                digest,
                status=Status.FAILED,
                error=text,
                finished_at=timezone.now(),
                seconds=seconds,
            )
            return Outcome(schema, "failed", seconds=seconds, error=text)
        seconds = time.perf_counter() - started
        _record(
            schema,
            digest,
            status=Status.DONE,
            applied=applied,
            finished_at=timezone.now(),
            seconds=seconds,
        )
        return Outcome(schema, "migrated", applied=applied, seconds=seconds)
    finally:
        if connection.connection is not None and connection.is_usable():
            _unlock(schema)


class PublicSchemaFailed(CommandError):
    """The public schema could not be migrated; no other schema was touched."""

    def __init__(self, error: str) -> None:
        super().__init__(
            f"The public schema failed to migrate; no other schema was touched: {error}"
        )


def run(
    *,
    schemas: Sequence[str] | None = None,
    retry_failed: bool = False,
    jobs: int = 1,
    lock_wait: float = 300.0,
    verbosity: int = 0,
    planned: Callable[[int], None] = lambda count: None,
    progress: Callable[[Outcome], None] = lambda outcome: None,
) -> Summary:
    """Migrates the public schema, then `schemas` (default: `upkeep_schemas()`); see the
    module's docstring. `planned(n)` is told how many schemas need a visit, `progress` each
    visited schema's outcome."""
    started = time.perf_counter()
    target = migration_target()
    summary = Summary(target=target.digest)
    public = get_public_schema_name()
    connection.set_schema_to_public()
    if schemas is not None and (unknown := set(schemas) - existing_schemas(schemas)):
        raise CommandError(f"No such schema(s): {', '.join(sorted(unknown))}.")
    if public not in schemas_at_target([public], target):
        outcome = migrate_schema(public, target, lock_wait=lock_wait, verbosity=verbosity)
        if outcome.status == "failed":
            raise PublicSchemaFailed(outcome.error)
        summary.outcomes.append(outcome)
    everything = schemas is None
    if everything:
        create_template_schema()
    wanted = upkeep_schemas() if schemas is None else [s for s in schemas if s != public]
    at_target = schemas_at_target(wanted, target)
    recorded = {
        row.schema: row
        for row in SchemaMigration.objects.only("schema", "status", "target", "error")
    }
    if everything:
        gone = set(recorded) - set(wanted) - {public}
        SchemaMigration.objects.filter(schema__in=gone).delete()
    _note_at_target(
        [s for s in wanted if s in at_target and not _is_done(recorded.get(s), target.digest)],
        target.digest,
    )
    summary.outcomes.extend(Outcome(schema, "skipped") for schema in wanted if schema in at_target)
    visit: list[str] = []
    for schema in (s for s in wanted if s not in at_target):
        row = recorded.get(schema)
        if (
            not retry_failed
            and row is not None
            and row.status == Status.FAILED
            and row.target == target.digest
        ):
            summary.outcomes.append(Outcome(schema, "failed", error=row.error))
        else:
            visit.append(schema)
    SchemaMigration.objects.bulk_create(
        [SchemaMigration(schema=s, target=target.digest, status=Status.PENDING) for s in visit],
        update_conflicts=True,
        unique_fields=["schema"],
        update_fields=["target", "status"],
    )
    planned(len(visit))
    visits = (
        _in_processes(visit, target, jobs=jobs, lock_wait=lock_wait, verbosity=verbosity)
        if jobs > 1 and len(visit) > 1
        else (migrate_schema(s, target, lock_wait=lock_wait, verbosity=verbosity) for s in visit)
    )
    for outcome in visits:
        summary.outcomes.append(outcome)
        progress(outcome)
    summary.seconds = time.perf_counter() - started
    return summary


def _is_done(row: SchemaMigration | None, digest: str) -> bool:
    return row is not None and row.status == Status.DONE and row.target == digest


def _note_at_target(schemas: list[str], digest: str) -> None:
    """Schemas found at the target without this runner's help (cloned from the template,
    migrated by an older tool): one statement records them done."""
    SchemaMigration.objects.bulk_create(
        [
            SchemaMigration(schema=s, target=digest, status=Status.DONE, runner=_runner_name())
            for s in schemas
        ],
        update_conflicts=True,
        unique_fields=["schema"],
        update_fields=["target", "status", "error", "runner"],
    )


def _in_processes(
    schemas: list[str], target: Target, *, jobs: int, lock_wait: float, verbosity: int
) -> Iterable[Outcome]:
    """Each schema in one of `jobs` fresh processes (spawned: a forked copy would share this
    process's database connections and pool)."""
    context = multiprocessing.get_context("spawn")
    database = {
        "NAME": connection.settings_dict["NAME"],
        "MIGRATION_MODULES": dict(getattr(settings, "MIGRATION_MODULES", {}) or {}),
    }
    connection.close()  # the children do the work; this one must not hold a session meanwhile
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=worker.start, initargs=(database,)
    ) as pool:
        futures = [
            pool.submit(migrate_schema, schema, target, lock_wait=lock_wait, verbosity=verbosity)
            for schema in schemas
        ]
        for future in as_completed(futures):
            yield future.result()
