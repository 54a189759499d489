"""Spare tenant schemas: made and migrated ahead of time, so that a sign-up only renames one.

Making a tenant schema costs more the more schemas the database holds (django-tenants'
`clone_schema` walks `information_schema`); renaming one (`ALTER SCHEMA … RENAME`) does not.
So beat and every claim keep `MYMEDIC_SPARE_SCHEMAS` spares ready (`spare_<12 hex>`, one
`SpareSchema` row each in the public schema) and `tenant_onboard` claims one.

A spare is made by replaying the template's definitions and rows: `pg_dump --inserts` of
`settings.TENANT_BASE_SCHEMA`, taken once per migration state by upkeep and kept in
`SpareRecipe` (the dump reads the whole catalog: 124 s at 607 schemas), with the schema's
name rewritten, run in one transaction; until upkeep has stored it, top-ups migrate instead.
Replaying was the fastest of the three ways measured (docs/PERFORMANCE.md, "Spare
schemas"): it takes about the same time at any number of schemas, migrating is slower
throughout, cloning grows with the catalog. The other two stay here for that measurement
(`manage.py spare_schemas --fill N --method …`).

Nothing in a tenant schema names its schema: the append-only and head-noting triggers call
functions in `public` that read `TG_TABLE_SCHEMA`, identity columns own their sequences by
OID, and keys (which do name their schema) are made at the claim. So a renamed spare is
whole under its new name (`tests/tenants/test_spare_schemas.py`).
"""

import hashlib
import logging
import re
import secrets
import subprocess
import time
from collections.abc import Iterable

from django.conf import settings
from django.core.management import call_command
from django.db import models, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django_tenants.clone import CloneSchema
from django_tenants.utils import get_public_schema_name, schema_context

from apps.core.db import connection
from apps.core.partitions import copy_partitioned_foreign_keys
from apps.core.tenancy import SPARE_SCHEMA_PREFIX
from apps.tenants.backups import libpq_env, pg_tool
from apps.tenants.models import SpareRecipe, SpareSchema

logger = logging.getLogger(__name__)

Method = SpareSchema.Method

# Stands for the new schema's name in a recipe (not a valid identifier, so never in a dump).
PLACEHOLDER = "<<spare>>"

_recipes: dict[str, str] = {}


def new_spare_name() -> str:
    return f"{SPARE_SCHEMA_PREFIX}{secrets.token_hex(6)}"


def _digest(migrations: Iterable[tuple[str, str]]) -> tuple[str, int]:
    names = sorted(f"{app}.{name}" for app, name in set(migrations))
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:32], len(names)


_code: tuple[str, int] | None = None


def code_migrations() -> tuple[str, int]:
    """(digest, count) of the migrations this code has: what a claimable spare has applied."""
    global _code  # noqa: PLW0603  (the code's migrations do not change while it runs)
    if _code is None:
        _code = _digest(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    return _code


def schema_migrations(schema: str) -> tuple[str, int]:
    """(digest, count) of the migrations applied in `schema`."""
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations')  # noqa: S608
        return _digest(cursor.fetchall())


def template_is_current() -> bool:
    return schema_migrations(settings.TENANT_BASE_SCHEMA) == code_migrations()


def recipe(*, dump: bool = True) -> str | None:
    """The template schema's definitions and rows as SQL, with `PLACEHOLDER` for its name,
    for the template's migration state: from this process, else from `SpareRecipe`, else
    (with `dump`) dumped now and stored. None when there is none and `dump` is off."""
    template = settings.TENANT_BASE_SCHEMA
    state = schema_migrations(template)[0]
    if state not in _recipes:
        stored = SpareRecipe.objects.filter(migrations=state).values_list("sql", flat=True)
        if (text := stored.first()) is None:
            if not dump:
                return None
            text = _dump_recipe(state)
        _recipes[state] = text
    return _recipes[state]


def _dump_recipe(state: str) -> str:
    template = settings.TENANT_BASE_SCHEMA
    started = time.perf_counter()
    dumped = subprocess.run(  # noqa: S603  (our own arguments, no shell)
        [pg_tool("pg_dump"), f"--schema={template}", "--inserts", "--no-owner",
         "--no-privileges", "--no-comments", "--no-publications", "--no-subscriptions",
         "--rows-per-insert=1000"],
        env=libpq_env(connection.settings_dict["NAME"]),
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    seconds = time.perf_counter() - started
    text = rewrite(dumped, template)
    with schema_context(get_public_schema_name()):
        SpareRecipe.objects.get_or_create(
            migrations=state, defaults={"sql": text, "seconds": seconds}
        )
    logger.info("spare schema recipe dumped template=%s seconds=%.3f", template, seconds)
    return text


# pg_dump's session settings (search_path among them) would outlive the transaction that
# replays the recipe; the schema is created by `make`; comments carry nothing.
_SESSION_LINE = re.compile(r"^(SET |SELECT pg_catalog\.set_config|CREATE SCHEMA |--|\\)")


def rewrite(dump: str, schema: str) -> str:
    """`dump` (plain pg_dump output of `schema`) as statements for `PLACEHOLDER`. pg_dump
    qualifies every name with its schema (its search_path is empty), as `schema.` or, in
    literals such as sequence names, `'schema.`."""
    kept = [line for line in dump.splitlines() if not _SESSION_LINE.match(line)]
    return re.sub(rf"\b{re.escape(schema)}\.", f"{PLACEHOLDER}.", "\n".join(kept))


def make(method: str = Method.REPLAY) -> SpareSchema:
    """Makes one spare schema by `method` and records it in the public schema, in one
    transaction (but for `migrate`, whose migrations commit as they go)."""
    if method not in Method.values:
        raise ValueError(f"Unknown way to make a spare schema: {method}")
    name = new_spare_name()
    with schema_context(get_public_schema_name()):
        started = time.perf_counter()
        if method == Method.MIGRATE:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE SCHEMA "{name}"')
            call_command("migrate_schemas", schema_name=name, interactive=False, verbosity=0)
            connection.set_schema_to_public()
        with transaction.atomic():
            if method == Method.REPLAY:
                statements = str(recipe()).replace(PLACEHOLDER, name)
                with connection.cursor() as cursor:
                    cursor.execute(f'CREATE SCHEMA "{name}"')
                    cursor.execute(statements)
            elif method == Method.CLONE:
                CloneSchema().clone_schema(settings.TENANT_BASE_SCHEMA, name, set_connection=False)
                copy_partitioned_foreign_keys(settings.TENANT_BASE_SCHEMA, name)
            seconds = time.perf_counter() - started
            digest, count = schema_migrations(name)
            return SpareSchema.objects.create(
                schema_name=name,
                migrations=digest,
                migration_count=count,
                method=method,
                seconds=seconds,
            )


def ready() -> models.QuerySet[SpareSchema]:
    """Spares a sign-up may claim now: unclaimed, at the code's migrations."""
    return SpareSchema.objects.filter(claimed_at__isnull=True, migrations=code_migrations()[0])


def claim(schema_name: str) -> SpareSchema | None:
    """Inside the caller's transaction (in the public schema): takes one ready spare, skipping
    any another sign-up holds, and renames it `schema_name`. None when none is ready. If the
    transaction rolls back, the spare is back in the pool under its own name."""
    spare = ready().select_for_update(skip_locked=True).order_by("id").first()
    if spare is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER SCHEMA "{spare.schema_name}" RENAME TO "{schema_name}"')
    spare.claimed_at = timezone.now()
    spare.claimed_as = schema_name
    spare.save(update_fields=["claimed_at", "claimed_as"])
    return spare


def migrate_stale(verbosity: int = 0) -> int:
    """Migrates every unclaimed spare behind the code (upkeep after a deploy, with the
    tenants); returns how many."""
    digest, _ = code_migrations()
    with schema_context(get_public_schema_name()):
        unclaimed = SpareSchema.objects.filter(claimed_at__isnull=True)
        stale = list(unclaimed.exclude(migrations=digest))
        for spare in stale:
            # The migration runner migrates spares too: then only the record is behind.
            if schema_migrations(spare.schema_name)[0] != digest:
                call_command(
                    "migrate_schemas",
                    schema_name=spare.schema_name,
                    interactive=False,
                    verbosity=verbosity,
                )
                connection.set_schema_to_public()
            spare.migrations, spare.migration_count = schema_migrations(spare.schema_name)
            spare.save(update_fields=["migrations", "migration_count"])
    return len(stale)


def drop(spare: SpareSchema) -> None:
    """Removes an unclaimed spare and its row."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{spare.schema_name}" CASCADE')
        spare.delete()
