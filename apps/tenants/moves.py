"""Moving a tenant to another cell online, by PostgreSQL logical replication.

A cell is one PostgreSQL database with its Redis and processes. `tenant_move` moves one
tenant from this process's database (the source) to another database (the target, a cell
name of `MYMEDIC_CELLS` or a database URL) while the tenant keeps working:

1. **Prepare.** The schema's DDL (`pg_dump --schema-only --schema=<schema>`) is applied to
   the target, and the tenant's public rows (the tenant, and the rows of every public table
   with a foreign key to it: domains, `TenantWork`, …) are inserted there with the tenant
   paused (`Tenant.moving_at`).
2. **Copy online.** A publication of the schema and a logical replication slot on the
   source, a subscription on the target: the initial copy, then streaming. The slot is made
   apart from the subscription: `CREATE SUBSCRIPTION` hangs when both databases are in one
   cluster and it makes its own slot; made apart, the same steps serve separate clusters.
3. **Cut-over.** The tenant is paused on the source (every command then answers 503 with
   Retry-After: `apps.eventstore.locks.append_lock`), its append lock and its projections'
   rows are taken (commands and projection runs in flight finish first), the target catches
   up to the source's current WAL position, the subscription stops, every sequence of the
   schema is set to the source's value, `tenant_moved` is sent (the directory flips the
   tenant to the target cell) and the pause is lifted on the target. The pause is measured.
4. **Verify, then drop.** Row count and checksum of every table, in a snapshot of each side
   taken during the pause; on the target cell (`manage.py tenant_arrival`): the audit chain
   verifies, every patient's sealed data opens with the tenant's key (which lives in the
   schema, wrapped by the master key and the schema's name, so it moved with it), the read
   models catch up, the read cache starts new generations and the warehouse export starts
   afresh. Then the subscription, slot and publication are dropped and, unless
   `keep_source`, the source's schema and public rows.

A failure before the flip abandons the move: the target's copy, the subscription, the slot
and the publication are dropped and the pause on the source is lifted, which leaves the
source as it was. After the flip the target is the tenant's home; a failed verification
keeps the source (paused for good) for an operator to compare (docs/OPERATIONS.md).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.dispatch import Signal
from psycopg import sql
from psycopg.conninfo import make_conninfo

from apps.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from apps.eventstore.locks import APPEND_LOCK_CLASS
from apps.tenants import backups
from apps.tenants.models import Tenant

Progress = Callable[[str], None]

# Sent during the cut-over, while the tenant's writes are paused on both cells, with the
# keyword arguments `slug`, `source_cell` and `target_cell`. The directory listens and points
# the tenant's host at the target cell; a receiver that raises abandons the move.
tenant_moved = Signal()

# How far behind (bytes of WAL) the target may be when the pause starts.
CAUGHT_UP_BYTES = 1 << 20
POLL_SECONDS = 0.01


def silent(message: str) -> None:
    pass


@dataclass(frozen=True)
class Target:
    """Where a tenant goes: a cell's name (or the URL itself) and its database."""

    cell: str
    url: str
    redis_url: str | None = None

    @property
    def params(self) -> dict[str, str]:
        return backups.params_of(self.url)


def this_cell() -> str:
    return str(getattr(settings, "MYMEDIC_CELL", "local"))


def resolve_target(to: str) -> Target:
    """A cell name of `MYMEDIC_CELLS`, or a database URL (named after its cell if one has it).
    A cell may name its Redis (`redis_url`) so that the target's read cache is renewed
    there; without it this process's Redis is taken for the target's."""
    cells: dict[str, dict[str, Any]] = getattr(settings, "MYMEDIC_CELLS", {})
    if "://" not in to:
        if to not in cells:
            raise NotFound(f"No cell {to}; the cells are {', '.join(sorted(cells)) or 'none'}.")
        cell = cells[to]
        return Target(to, str(cell["database_url"]), cell.get("redis_url"))
    for name, cell in cells.items():
        if cell.get("database_url") == to:
            return Target(name, to, cell.get("redis_url"))
    shown = Target(to, to).params
    return Target(f"{shown.get('host')}:{shown.get('port')}/{shown.get('dbname')}", to)


@dataclass
class Plan:
    slug: str
    tenant_id: int
    tenant: dict[str, Any]
    schema: str
    tables: list[str]
    keyed: list[tuple[str, str]]  # public tables with a foreign key to the tenant (column)
    target_tenant_id: int | None = None
    subscription_oid: int | None = None
    made: list[str] = field(default_factory=list)  # what exists and must go if abandoned

    @property
    def name(self) -> str:
        """The publication's, slot's and subscription's name."""
        return f"mymedic_move_{self.schema}"[:63]


@dataclass(frozen=True)
class Moved:
    slug: str
    schema: str
    source_cell: str
    target_cell: str
    pause_seconds: float
    tables: int
    rows: int
    events: int
    last_position: int
    source_dropped: bool
    seconds: float
    arrival: dict[str, Any]


# --- connections ---------------------------------------------------------------------------


def _connect(params: dict[str, str], *, autocommit: bool = True) -> psycopg.Connection[Any]:
    conn = psycopg.connect(**params, autocommit=autocommit)  # type: ignore[arg-type]
    conn.execute("SET TimeZone = 'UTC'")
    if not autocommit:
        conn.commit()
    return conn


def _run(args: list[str], params: dict[str, str]) -> None:
    done = subprocess.run(  # noqa: S603  (our own arguments, no shell)
        args, env=backups.env_of(params), capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise InvalidInput(f"{Path(args[0]).name} failed: {done.stderr.strip()[-2000:]}")


def _one(conn: psycopg.Connection[Any], query: Any, params: Any = None) -> Any:
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def _wait(what: str, done: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise Unavailable(f"Timed out after {seconds:.0f} s waiting for {what}.")
        time.sleep(POLL_SECONDS)


# --- the move ------------------------------------------------------------------------------


def tenant_move(
    *,
    actor: None,
    slug: str,
    to: str,
    keep_source: bool = False,
    max_pause: float = 5.0,
    copy_timeout: float = 3600.0,
    progress: Progress = silent,
) -> Moved:
    """Moves tenant `slug` from this database to `to` (a cell name or a database URL)."""
    target = resolve_target(to)
    started = time.perf_counter()
    source_cell = this_cell()
    with _connect(backups.app_params()) as source, _connect(target.params) as dest:
        plan = _plan(source, dest, slug)
        progress(
            f"{slug}: moving schema {plan.schema} ({len(plan.tables)} tables) "
            f"from cell {source_cell} to {target.cell}"
        )
        try:
            _prepare(source, dest, plan, target, progress)
            _copy(source, dest, plan, copy_timeout, progress)
            steps, snapshots = _cut_over(source, dest, plan, source_cell, target, max_pause)
            pause = steps["paused"]
        except BaseException:
            progress(f"{slug}: abandoning the move; the source stays as it was")
            _abandon(source, dest, plan, progress)
            raise
        progress(
            f"{slug}: cut over to {target.cell}; writes were paused {pause * 1000:.0f} ms ("
            + ", ".join(
                f"{what} {s * 1000:.0f} ms" for what, s in steps.items() if what != "paused"
            )
            + ")"
        )
        try:
            differences, rows, heads = _compare(snapshots, plan)
        finally:
            for conn in snapshots:
                conn.close()
            _drop_replication(source, dest, plan)
        progress(f"{slug}: replication objects dropped")
        if differences:
            raise Conflict(
                f"{slug}: the target differs from the source in {', '.join(differences)}; the "
                f"source (schema {plan.schema}) is kept, paused. See docs/OPERATIONS.md."
            )
        progress(
            f"{slug}: {len(plan.tables)} tables, {rows} rows match (count and checksum); "
            f"{heads[0]} events, last position {heads[1]}"
        )
        arrival = _arrive(slug, target, progress)
        if not keep_source:
            _drop_source(source, plan)
            progress(f"{slug}: schema {plan.schema} and its public rows dropped at the source")
    seconds = time.perf_counter() - started
    progress(f"{slug}: moved to {target.cell} in {seconds:.1f} s")
    return Moved(
        slug=slug,
        schema=plan.schema,
        source_cell=source_cell,
        target_cell=target.cell,
        pause_seconds=pause,
        tables=len(plan.tables),
        rows=rows,
        events=heads[0],
        last_position=heads[1],
        source_dropped=not keep_source,
        seconds=seconds,
        arrival=arrival,
    )


def tenant_move_recover(
    *,
    actor: None,
    slug: str,
    to: str,
    keep_source: bool = False,
    progress: Progress = silent,
) -> str:
    """Finishes or undoes the move of `slug` to `to` whose mover died (killed, its machine
    lost) and left the tenant paused, a replication slot holding the source's WAL, a
    subscription and a partial copy. What the two databases hold decides:

    - the target's tenant row with its pause lifted: the cut-over completed (the pause is
      lifted there last, after the directory flipped), so the move is **finished** — the
      replication objects dropped, the target checked (`tenant_arrival`), the source dropped
      unless `keep_source`;
    - anything else: the move is **undone** — replication objects and the target's copy
      dropped, the directory pointed back at this cell if it had flipped, the pause on the
      source lifted. No write is lost: while paused the tenant took none on either side.

    Returns "finished", "undone", or "nothing to do" (the source is gone: the move had
    finished). Safe to run twice."""
    from apps.directory.selectors import location_of

    target = resolve_target(to)
    source_cell = this_cell()
    with _connect(backups.app_params()) as source, _connect(target.params) as dest:
        query = "SELECT to_jsonb(t) FROM public.tenants_tenant t WHERE slug = %s"
        here, there = _one(source, query, [slug]), _one(dest, query, [slug])
        if here is None:
            if there is None:
                raise NotFound(f"No tenant {slug} here or in {target.cell}.")
            progress(f"{slug}: the source is gone; the move had finished")
            return "nothing to do"
        plan = _plan(source, dest, slug, recovering=True)
        plan.made = ["schema", "subscription", "slot", "publication"]
        plan.subscription_oid = _one(
            dest, "SELECT oid FROM pg_subscription WHERE subname = %s", [plan.name]
        )
        plan.target_tenant_id = int(there["id"]) if there else None
        _drop_replication(source, dest, plan)
        progress(f"{slug}: replication objects dropped (if any were left)")
        if there is not None and there.get("moving_at") is None:
            _arrive(slug, target, progress)
            if not keep_source:
                _drop_source(source, plan)
                progress(f"{slug}: schema {plan.schema} and its public rows dropped at the source")
            progress(f"{slug}: the move to {target.cell} is finished")
            return "finished"
        _drop_copy(dest, plan)
        progress(f"{slug}: the target's partial copy dropped")
        location = location_of(slug)
        if location is not None and location.cell == target.cell:
            tenant_moved.send(
                sender=Tenant, slug=slug, source_cell=target.cell, target_cell=source_cell
            )
            progress(f"{slug}: the directory points at {source_cell} again")
        source.execute(
            "UPDATE public.tenants_tenant SET moving_at = NULL WHERE id = %s", [plan.tenant_id]
        )
        progress(f"{slug}: the move is undone; the tenant takes writes here again")
        return "undone"


def _plan(
    source: psycopg.Connection[Any],
    dest: psycopg.Connection[Any],
    slug: str,
    *,
    recovering: bool = False,
) -> Plan:
    """What moves, after the checks that need nothing changed (when `recovering` from a mover
    that died, what its move may have left: the checks that it started are skipped)."""
    tenant = _one(source, "SELECT to_jsonb(t) FROM public.tenants_tenant t WHERE slug = %s", [slug])
    if tenant is None:
        raise NotFound(f"No tenant {slug} here.")
    schema = tenant["schema_name"]
    if recovering:
        return Plan(slug, int(tenant["id"]), tenant, schema, [], _keyed(source))
    if tenant.get("moving_at"):
        raise Conflict(
            f"{slug} is being moved (or has moved) already: moving_at is set. If its mover "
            "died, `tenant_move --recover` finishes or undoes that move."
        )
    if _one(source, "SELECT system_identifier FROM pg_control_system()") == _one(
        dest, "SELECT system_identifier FROM pg_control_system()"
    ) and _one(source, "SELECT current_database()") == _one(dest, "SELECT current_database()"):
        raise InvalidInput("The target is this database.")
    if _one(source, "SHOW wal_level") != "logical":
        raise InvalidInput("The source needs wal_level = logical (scripts/local.sh sets it).")
    if _one(dest, "SELECT to_regclass('public.tenants_tenant') IS NULL"):
        raise InvalidInput("The target database has no tenants (migrate it as a cell first).")
    if _one(dest, "SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]):
        raise Conflict(f"The target already has a schema {schema}.")
    if _one(dest, "SELECT 1 FROM public.tenants_tenant WHERE slug = %s", [slug]):
        raise Conflict(f"The target already has a tenant {slug}.")
    tables = [
        name
        for (name,) in source.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [schema]
        )
    ]
    without_identity = [
        name
        for (name,) in source.execute(
            """
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %s AND c.relkind = 'r' AND (c.relreplident = 'n' OR
              (c.relreplident = 'd' AND NOT EXISTS (
                SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))
            """,
            [schema],
        )
    ]
    if without_identity:
        raise InvalidInput(
            f"Tables without a primary key cannot be replicated: {', '.join(without_identity)}."
        )
    return Plan(slug, int(tenant["id"]), tenant, schema, tables, _keyed(source))


def _keyed(source: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """The public tables with a foreign key to the tenant, and that column."""
    return [
        (str(table), str(column))
        for table, column in source.execute(
            """
            SELECT cl.relname, a.attname FROM pg_constraint con
            JOIN pg_class cl ON cl.oid = con.conrelid
            JOIN pg_namespace n ON n.oid = cl.relnamespace
            JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
            WHERE con.contype = 'f' AND n.nspname = 'public'
              AND con.confrelid = 'public.tenants_tenant'::regclass
            ORDER BY cl.relname
            """
        )
    ]


def _prepare(
    source: psycopg.Connection[Any],
    dest: psycopg.Connection[Any],
    plan: Plan,
    target: Target,
    progress: Progress,
) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tenant-move-") as work:
        ddl = Path(work) / "schema.sql"
        _run(
            [backups.pg_tool("pg_dump"), "--schema-only", f"--schema={plan.schema}",
             "--no-owner", "--no-privileges", f"--file={ddl}"],
            backups.app_params(),
        )  # fmt: skip
        _run(
            [backups.pg_tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
             "-f", str(ddl)],
            target.params,
        )  # fmt: skip
        plan.made.append("schema")
    with dest.transaction():
        plan.target_tenant_id = _insert_row(
            dest, "tenants_tenant", {**plan.tenant, "moving_at": "now"}
        )
        for table, column in plan.keyed:
            for (row,) in source.execute(
                sql.SQL("SELECT to_jsonb(t) FROM public.{} t WHERE {} = %s").format(
                    sql.Identifier(table), sql.Identifier(column)
                ),
                [plan.tenant_id],
            ):
                _insert_row(dest, table, {**row, column: plan.target_tenant_id})
    progress(
        f"{plan.slug}: prepared the target (schema DDL, tenant row paused, "
        f"{', '.join(table for table, _ in plan.keyed) or 'no other'} rows) "
        f"in {time.perf_counter() - started:.1f} s"
    )


def _columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
    return [
        name
        for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = %s AND column_name <> 'id'"
            " ORDER BY ordinal_position",
            [table],
        )
    ]


def _insert_row(conn: psycopg.Connection[Any], table: str, row: dict[str, Any]) -> int | None:
    """Inserts `row` (a JSON object of the source's row) into the target's public `table`,
    with the target's own id if it has one; returns that id."""
    if row.get("moving_at") == "now":
        row["moving_at"] = _one(conn, "SELECT now()::text")
    columns = [name for name in _columns(conn, table) if name in row]
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    query = sql.SQL(
        "INSERT INTO public.{table} AS inserted ({names}) SELECT {names}"
        " FROM jsonb_populate_record(NULL::public.{table}, %s::jsonb)"
        " RETURNING to_jsonb(inserted)"
    ).format(table=sql.Identifier(table), names=names)
    inserted = _one(conn, query, [json.dumps(row)])
    return int(inserted["id"]) if "id" in inserted else None


def _copy(
    source: psycopg.Connection[Any],
    dest: psycopg.Connection[Any],
    plan: Plan,
    timeout: float,
    progress: Progress,
) -> None:
    started = time.perf_counter()
    name, schema = plan.name, plan.schema
    source.execute(
        sql.SQL("CREATE PUBLICATION {} FOR TABLES IN SCHEMA {}").format(
            sql.Identifier(name), sql.Identifier(schema)
        )
    )
    plan.made.append("publication")
    source.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [name])
    plan.made.append("slot")
    conninfo = make_conninfo(**backups.app_params())
    dest.execute(
        sql.SQL(
            "CREATE SUBSCRIPTION {name} CONNECTION {conninfo} PUBLICATION {name}"
            " WITH (create_slot = false, slot_name = {slot}, copy_data = true,"
            " synchronous_commit = 'on')"
        ).format(name=sql.Identifier(name), conninfo=sql.Literal(conninfo), slot=sql.Literal(name))
    )
    plan.made.append("subscription")
    plan.subscription_oid = int(
        _one(dest, "SELECT oid FROM pg_subscription WHERE subname = %s", [name])
    )
    progress(
        f"{plan.slug}: copying {len(plan.tables)} tables (publication, slot, subscription {name})"
    )
    _wait(
        "the initial copy",
        lambda: not _one(
            dest,
            "SELECT count(*) FROM pg_subscription_rel WHERE srsubid = %s AND srsubstate <> 'r'",
            [plan.subscription_oid],
        ),
        timeout,
    )
    progress(f"{plan.slug}: initial copy done in {time.perf_counter() - started:.1f} s; streaming")
    _wait("the target to catch up", lambda: _lag(source, name) < CAUGHT_UP_BYTES, timeout)


def _lag(source: psycopg.Connection[Any], slot: str) -> int:
    behind = _one(
        source,
        "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), confirmed_flush_lsn)"
        " FROM pg_replication_slots WHERE slot_name = %s",
        [slot],
    )
    return int(behind) if behind is not None else sys.maxsize


def _cut_over(
    source: psycopg.Connection[Any],
    dest: psycopg.Connection[Any],
    plan: Plan,
    source_cell: str,
    target: Target,
    max_pause: float,
) -> tuple[dict[str, float], tuple[psycopg.Connection[Any], psycopg.Connection[Any]]]:
    """Pauses the tenant's writes, hands it over, lifts the pause on the target. Returns how
    long each step of the pause took (`paused` is the whole), and a snapshot of each side
    taken during the pause (for the verification)."""
    schema, name = plan.schema, plan.name
    # Connections are opened before the pause, not during it.
    hold = _connect(backups.app_params(), autocommit=False)
    snapshots = (
        _connect(backups.app_params(), autocommit=False),
        _connect(target.params, autocommit=False),
    )
    steps: dict[str, float] = {}
    try:
        deadline = time.monotonic() + max_pause
        paused = step = time.perf_counter()

        def done(what: str) -> None:
            nonlocal step
            now = time.perf_counter()
            steps[what], step = now - step, now

        source.execute(
            "UPDATE public.tenants_tenant SET moving_at = now() WHERE id = %s", [plan.tenant_id]
        )
        # Waits out the commands in flight (they hold the append lock) and the projection
        # runs in flight (they hold their rows); later ones find the tenant paused or skip.
        hold.execute(
            sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{int(max_pause * 1000)}ms"))
        )
        try:
            hold.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [APPEND_LOCK_CLASS, schema]
            )
            hold.execute(
                sql.SQL("SELECT 1 FROM {}.eventstore_projectionstate FOR UPDATE").format(
                    sql.Identifier(schema)
                )
            )
        except psycopg.errors.LockNotAvailable as exc:
            raise Unavailable(
                f"A command or projection run held {plan.slug} longer than the pause allows "
                f"({max_pause:.0f} s)."
            ) from exc
        lsn = _one(hold, "SELECT pg_current_wal_insert_lsn()::text")
        work = [
            row
            for (row,) in hold.execute(
                "SELECT to_jsonb(w) FROM public.tenants_tenantwork w WHERE tenant_id = %s",
                [plan.tenant_id],
            )
        ]
        sequences = list(
            hold.execute(
                "SELECT sequencename, last_value FROM pg_sequences"
                " WHERE schemaname = %s AND last_value IS NOT NULL",
                [schema],
            )
        )
        # The source's WAL up to that position must be flushed before it can be sent; the
        # row locks above are not, and an idle tenant commits nothing after them. A commit
        # that waits for its flush (with a message the subscriber ignores) moves it along.
        with source.transaction():
            source.execute("SET LOCAL synchronous_commit = on")
            source.execute("SELECT pg_logical_emit_message(true, 'mymedic.move', %s)", [schema])
        done("writes stopped")
        _wait(
            "the target to apply the last writes",
            lambda: bool(
                _one(
                    source,
                    "SELECT confirmed_flush_lsn >= %s::pg_lsn FROM pg_replication_slots"
                    " WHERE slot_name = %s",
                    [lsn, name],
                )
            ),
            max(deadline - time.monotonic(), 0.0),
        )
        done("target caught up")
        # Nothing the source writes from now on may reach the target. A disabled apply
        # worker notices only at its next wake-up (up to a second); everything up to the
        # position above is applied, so it is stopped at once instead.
        dest.execute(sql.SQL("ALTER SUBSCRIPTION {} DISABLE").format(sql.Identifier(name)))
        dest.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_subscription"
            " WHERE subid = %s AND pid IS NOT NULL",
            [plan.subscription_oid],
        )
        _wait(
            "the subscription to stop",
            lambda: not _one(
                dest,
                "SELECT count(*) FROM pg_stat_subscription WHERE subid = %s AND pid IS NOT NULL",
                [plan.subscription_oid],
            ),
            max(deadline - time.monotonic(), 0.0),
        )
        done("subscription stopped")
        with dest.transaction():
            dest.execute(
                "SELECT setval(name::regclass, value, true)"
                " FROM unnest(%s::text[], %s::bigint[]) AS s(name, value)",
                [
                    [sql.Identifier(schema, sequence).as_string(dest) for sequence, _ in sequences],
                    [value for _, value in sequences],
                ],
            )
            dest.execute(
                "DELETE FROM public.tenants_tenantwork WHERE tenant_id = %s",
                [plan.target_tenant_id],
            )
            for row in work:
                _insert_row(dest, "tenants_tenantwork", {**row, "tenant_id": plan.target_tenant_id})
        done("sequences set")
        for conn in snapshots:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            conn.execute("SELECT 1")
        tenant_moved.send(
            sender=Tenant, slug=plan.slug, source_cell=source_cell, target_cell=target.cell
        )
        done("flipped")
        dest.execute(
            "UPDATE public.tenants_tenant SET moving_at = NULL WHERE id = %s",
            [plan.target_tenant_id],
        )
        steps["paused"] = time.perf_counter() - paused
        hold.commit()
    except BaseException:
        for conn in snapshots:
            conn.close()
        raise
    finally:
        hold.close()
    return steps, snapshots


# Row count and an order-free checksum (the sum of each row's hash, 60 bits of md5).
FINGERPRINT = (
    "SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 15))::bit(60)::bigint), 0) FROM {} t"
)


def _compare(
    snapshots: tuple[psycopg.Connection[Any], psycopg.Connection[Any]], plan: Plan
) -> tuple[list[str], int, tuple[int, int]]:
    """Tables that differ between the two snapshots, rows compared, and the event log's
    (count, last position)."""
    differences, rows = [], 0
    for table in plan.tables:
        query = sql.SQL(FINGERPRINT).format(sql.Identifier(plan.schema, table))
        mine, theirs = (conn.execute(query).fetchone() for conn in snapshots)
        if mine != theirs:
            differences.append(f"{table} (source {mine}, target {theirs})")
        rows += int(mine[0]) if mine else 0
    heads = [
        conn.execute(
            sql.SQL("SELECT count(*), coalesce(max(position), 0) FROM {}").format(
                sql.Identifier(plan.schema, "eventstore_event")
            )
        ).fetchone()
        for conn in snapshots
    ]
    if heads[0] != heads[1]:
        differences.append(f"the event log (source {heads[0]}, target {heads[1]})")
    count, last = heads[1] or (0, 0)
    return differences, rows, (int(count), int(last))


def _arrive(slug: str, target: Target, progress: Progress) -> dict[str, Any]:
    """Runs `manage.py tenant_arrival` against the target cell and returns its findings."""
    env = {**os.environ, "DATABASE_URL": target.url, "MYMEDIC_DB_POOL": "0"}
    if target.redis_url:
        env["REDIS_URL"] = target.redis_url
        env.pop("CELERY_BROKER_URL", None)
    done = subprocess.run(  # noqa: S603  (our own arguments, no shell)
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "tenant_arrival", slug],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        raise Conflict(
            f"{slug}: the checks on the target cell failed; the source is kept, paused: "
            f"{(done.stderr or done.stdout).strip()[-2000:]}"
        )
    found: dict[str, Any] = json.loads(lines[-1])
    progress(
        f"{slug}: on the target: audit trail ok ({found['audit_entries']} entries), "
        f"{found['patients']} patients' data opens, read models at position "
        f"{found['projections_at']}, read cache renewed, warehouse export starts afresh"
    )
    return found


def _drop_replication(
    source: psycopg.Connection[Any], dest: psycopg.Connection[Any], plan: Plan
) -> None:
    """The subscription (kept from reaching the source, which may be its own cluster), the
    slots (the subscription's and any its table copies left) and the publication."""
    name = sql.Identifier(plan.name)
    if "subscription" in plan.made and _one(
        dest, "SELECT 1 FROM pg_subscription WHERE subname = %s", [plan.name]
    ):
        dest.execute(sql.SQL("ALTER SUBSCRIPTION {} DISABLE").format(name))
        dest.execute(sql.SQL("ALTER SUBSCRIPTION {} SET (slot_name = NONE)").format(name))
        dest.execute(sql.SQL("DROP SUBSCRIPTION {}").format(name))
    slots = [plan.name] if "slot" in plan.made else []
    if plan.subscription_oid is not None:
        slots += [
            slot
            for (slot,) in source.execute(
                "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE %s",
                [f"pg\\_{plan.subscription_oid}\\_sync\\_%"],
            )
        ]
    for slot in slots:
        _wait(
            f"slot {slot} to be released",
            lambda slot=slot: not _one(  # type: ignore[misc]
                source, "SELECT active FROM pg_replication_slots WHERE slot_name = %s", [slot]
            ),
            30.0,
        )
        source.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
            " WHERE slot_name = %s",
            [slot],
        )
    if "publication" in plan.made:
        source.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(name))


def _abandon(
    source: psycopg.Connection[Any], dest: psycopg.Connection[Any], plan: Plan, progress: Progress
) -> None:
    """Undoes a move that has not flipped: the source is left as it was."""
    steps: list[tuple[str, Callable[[], object]]] = [
        ("replication", lambda: _drop_replication(source, dest, plan)),
        ("the target's copy", lambda: _drop_copy(dest, plan)),
        (
            "the pause",
            lambda: source.execute(
                "UPDATE public.tenants_tenant SET moving_at = NULL WHERE id = %s",
                [plan.tenant_id],
            ),
        ),
    ]
    for what, step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001  (every step is tried; the move's own error follows)
            progress(f"{plan.slug}: could not undo {what}: {exc}")


def _drop_copy(dest: psycopg.Connection[Any], plan: Plan) -> None:
    if "schema" not in plan.made:
        return
    with dest.transaction():
        dest.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(plan.schema))
        )
        if plan.target_tenant_id is not None:
            _delete_public_rows(dest, plan, plan.target_tenant_id)


def _delete_public_rows(conn: psycopg.Connection[Any], plan: Plan, tenant_id: int) -> None:
    """In the caller's transaction. The tenant's statements are append-only, except in a
    transaction that says it moves them away with their tenant (plans.0004)."""
    conn.execute("SELECT set_config('mymedic.moved_tenant', %s, true)", [str(tenant_id)])
    for table, column in plan.keyed:
        conn.execute(
            sql.SQL("DELETE FROM public.{} WHERE {} = %s").format(
                sql.Identifier(table), sql.Identifier(column)
            ),
            [tenant_id],
        )
    conn.execute("DELETE FROM public.tenants_tenant WHERE id = %s", [tenant_id])


def _drop_source(source: psycopg.Connection[Any], plan: Plan) -> None:
    with source.transaction():
        source.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(plan.schema)))
        _delete_public_rows(source, plan, plan.tenant_id)


# --- on the target cell --------------------------------------------------------------------


def tenant_arrival(*, actor: None, slug: str) -> dict[str, Any]:
    """In the cell a tenant just moved to: checks it and makes its derived state current.

    The audit chain must verify and every patient's sealed data must open with the tenant's
    key; the projections catch up, the read cache of every branch starts a new generation
    (this cell's Redis may hold values from an earlier stay of the tenant here) and the
    warehouse export starts afresh, so this cell's warehouse gets every fact (re-exported
    facts fold away in its replacing tables if the warehouse is shared)."""
    from django.db import transaction
    from django_tenants.utils import schema_context

    from apps.audit.trail import verify
    from apps.clinic.models import Branch
    from apps.core.db import connection
    from apps.eventstore.projections import Touched, catch_up
    from apps.eventstore.readcache import bump_generations
    from apps.eventstore.store import head_position
    from apps.reconciliation.export import export_afresh
    from apps.scheduling.models import Patient

    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise NotFound(f"No tenant {slug} in this cell.")
    with schema_context(tenant.schema_name):
        Branch.objects.exists()  # sets the search path now, not as the snapshot's first query
        with transaction.atomic():
            # One snapshot for the trail and the log: the tenant takes writes meanwhile.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            audit = verify()
        if not audit.ok:
            raise Conflict(f"{slug}: the audit trail does not verify: {audit.problem}")
        patients = 0
        for patient in Patient.objects.exclude(wrapped_key=None).iterator():
            _ = patient.name  # opens the sealed fields with the patient's and tenant's keys
            patients += 1
        catch_up()
        position = head_position()
        bump_generations(
            Touched(branches=set(Branch.objects.values_list("id", flat=True))), position
        )
        export_afresh()
    return {
        "slug": slug,
        "audit_entries": audit.entries,
        "patients": patients,
        "projections_at": position,
    }
