"""The run's test database: built once, copied for each pytest-xdist worker.

Building it (the public schema's migrations, the template schema that onboarding clones, the
tenants `acme` and `globex`) takes most of a minute; PostgreSQL copies a whole database in
about a second (`CREATE DATABASE … TEMPLATE …`). So under xdist the first worker that needs a
database builds `test_<name>_base` while the others wait for it (a PostgreSQL advisory lock,
which PostgreSQL also releases when a worker dies), and every worker then copies it to its own
`test_<name>_gwN` and runs on that copy.

The base is labelled with the run's id (a comment on the database) once it is whole, and a
worker copies only a base of its own run: every run builds it afresh from the migrations and
the onboarding code it has, so a change of either is never hidden by an older build. Nothing
is connected to the base while it is copied (its builder closed its connections, and the lock
admits one worker at a time). The controller drops it when the run ends.

Without xdist the run builds its one database `test_<name>` as before.
See docs/TESTING.md.
"""

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import setup_databases, teardown_databases
from psycopg import sql


def _default() -> dict[str, Any]:
    return connections[DEFAULT_DB_ALIAS].settings_dict


def base_name(settings_dict: dict[str, Any]) -> str:
    """The run's built database, which the workers copy."""
    return f"test_{settings_dict['NAME']}_base"


@contextlib.contextmanager
def maintenance(settings_dict: dict[str, Any]) -> Iterator[psycopg.Connection[Any]]:
    """A connection to the cluster's `postgres` database (as Django's test set-up uses)."""
    with psycopg.connect(
        host=settings_dict["HOST"] or None,
        port=settings_dict["PORT"] or None,
        user=settings_dict["USER"] or None,
        password=settings_dict["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        yield admin


def _exists(admin: psycopg.Connection[Any], name: str) -> bool:
    found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return found is not None


def built_by(admin: psycopg.Connection[Any], name: str) -> str | None:
    """The id of the run that built database `name` (None: missing, or not whole)."""
    row = admin.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        [name],
    ).fetchone()
    return row[0] if row else None


def _drop(admin: psycopg.Connection[Any], name: str) -> None:
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def _use(name: str) -> None:
    """Points the default connection, and the connections that mirror it, at `name`."""
    connections.close_all()
    default = _default()
    default["NAME"] = name  # in place: it is also `settings.DATABASES["default"]`
    for alias in connections:
        if connections[alias].settings_dict.get("TEST", {}).get("MIRROR") == DEFAULT_DB_ALIAS:
            connections[alias].creation.set_as_test_mirror(default)


def copy_base(
    admin: psycopg.Connection[Any], *, base: str, copy: str, run: str, build: Callable[[], None]
) -> None:
    """Database `base` as run `run` built it, copied to `copy` (replacing it). A worker that
    finds no base of its run builds it with `build` first; the others wait for it."""
    admin.execute("SELECT pg_advisory_lock(hashtext(%s))", [base])
    try:
        if built_by(admin, base) != run:
            build()
            comment = sql.SQL("COMMENT ON DATABASE {} IS {}")
            admin.execute(comment.format(sql.Identifier(base), sql.Literal(run)))
        _drop(admin, copy)
        create = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
        admin.execute(create.format(sql.Identifier(copy), sql.Identifier(base)))
    finally:
        admin.execute("SELECT pg_advisory_unlock(hashtext(%s))", [base])


@contextlib.contextmanager
def session_database(*, build: Callable[[], None], keepdb: bool, verbosity: int) -> Iterator[None]:
    """This process's test database, made with `build` (idempotent: with `keepdb` it runs
    again on a kept database). Must be entered with database access unblocked."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    # No test asks for a serialized rollback; serializing would cost seconds per database.
    setup = {"verbosity": verbosity, "interactive": False, "serialized_aliases": set()}
    if not worker:
        old_config = setup_databases(**setup, keepdb=keepdb)
        build()
        yield
        if not keepdb:
            teardown_databases(old_config, verbosity=verbosity)
        return

    default = _default()
    original, own = default["NAME"], default["TEST"]["NAME"]  # pytest-django's test_<name>_gwN
    base = base_name(default)

    def build_base() -> None:
        default["TEST"]["NAME"] = base
        try:
            setup_databases(**setup)
            build()
        finally:
            default["TEST"]["NAME"] = own
            connections.close_all()  # nothing may be connected to the database copied

    with maintenance(default) as admin:
        if not (keepdb and _exists(admin, own)):
            run = os.environ["PYTEST_XDIST_TESTRUNUID"]
            copy_base(admin, base=base, copy=own, run=run, build=build_base)
    _use(own)
    try:
        yield
    finally:
        _use(original)
        if not keepdb:
            with maintenance(default) as admin:
                _drop(admin, own)


def drop_base() -> None:
    """In the controller after an xdist run: the workers' copies are gone, so is the base."""
    default = _default()
    # A cluster that is not up has no base: nothing was built (e.g. only collected).
    with contextlib.suppress(psycopg.OperationalError), maintenance(default) as admin:
        _drop(admin, base_name(default))
