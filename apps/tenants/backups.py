"""Per-tenant logical backups: one file that holds one tenant, restorable on its own.

A backup is a tar file of four members:

- `manifest.json`: what it is (format, slug, schema, when, server version, the event log's
  and audit trail's heads, the schema's migrations) and the SHA-256 and size of every other
  member;
- `public.json`: the tenant's rows of the public schema (the tenant and its domains), and
  its wrapped keys (also in the dump) so a restore can check them before it changes anything;
- `schema.dump`: `pg_dump -Fc -n <schema>`, every table, row, sequence and trigger of the
  tenant's schema (the event log, audit trail, read models and the wrapped tenant keys);
- `anchors.jsonl`: the audit anchors published for the schema, if any.

Everything is read in one database snapshot (`pg_dump --snapshot`), so the public rows, the
schema and the manifest's heads agree with each other. Patient fields stay sealed in the
dump: they open only with the tenant key, which opens only with the deployment's master key
(`MYMEDIC_MASTER_KEY`, or one listed in `MYMEDIC_MASTER_KEYS_RETIRED`) together with the
tenant's secret in the key store (`apps.core.keystore`), which a backup never holds: once an
erased tenant's secret is destroyed, none of its backups can be read.

The restore itself is `apps.tenants.commands.tenant_restore`.
"""

import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from typing import Any

import dj_database_url
import psycopg
from cryptography.exceptions import InvalidTag
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from psycopg import sql

from apps.audit.anchors import anchor_file
from apps.core import keystore
from apps.core.crypto import unwrap_tenant_key
from apps.core.db import connection
from apps.core.errors import Conflict, InvalidInput, NotFound

FORMAT = "mymedic-tenant-backup"
VERSION = 1
MEMBERS = ("public.json", "schema.dump", "anchors.jsonl")
CHUNK = 1 << 20

Progress = Callable[[str], None]


def silent(message: str) -> None:
    pass


@dataclass(frozen=True)
class Backup:
    path: Path
    sha256: str
    manifest: dict[str, Any]


# --- PostgreSQL client tools and connections ----------------------------------------------


def pg_tool(name: str) -> str:
    """The path of a PostgreSQL client program: MYMEDIC_PG_BIN, else the newest installed."""
    if settings.MYMEDIC_PG_BIN:
        return str(Path(settings.MYMEDIC_PG_BIN) / name)
    installed = sorted(
        glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(re.sub(r"\D", "", Path(path).parts[4]) or 0),
    )
    found = installed[-1] if installed else shutil.which(name)
    if not found:
        raise ImproperlyConfigured(f"{name} not found; set MYMEDIC_PG_BIN.")
    return found


def _params(dbname: str | None = None) -> dict[str, str]:
    db = connection.settings_dict
    return {
        "host": str(db["HOST"] or "127.0.0.1"),
        "port": str(db["PORT"] or 5432),
        "user": str(db["USER"] or ""),
        "password": str(db["PASSWORD"] or ""),
        "dbname": dbname or str(db["NAME"]),
    }


def app_params() -> dict[str, str]:
    """The app's database connection parameters (those that are set)."""
    return {key: value for key, value in _params().items() if value}


def libpq_env(dbname: str | None = None) -> dict[str, str]:
    """The environment that points pg_dump/pg_restore at the app's database (or `dbname`)."""
    return env_of(_params(dbname))


def env_of(params: dict[str, str]) -> dict[str, str]:
    """The environment that points libpq's programs at the database of `params`."""
    names = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD"}
    names["dbname"] = "PGDATABASE"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env.update({names[key]: value for key, value in params.items() if value})
    return env


def connect(dbname: str | None = None, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A connection of its own, outside Django's (snapshots, other databases)."""
    params = {key: value for key, value in _params(dbname).items() if value}
    return psycopg.connect(**params, autocommit=autocommit)  # type: ignore[arg-type]


def run_tool(args: list[str], dbname: str | None = None) -> None:
    done = subprocess.run(  # noqa: S603  (our own arguments, no shell)
        args, env=libpq_env(dbname), capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise InvalidInput(f"{Path(args[0]).name} failed: {done.stderr.strip()[-2000:]}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _size(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 100_000 else f"{nbytes / 1e3:.1f} kB"


# --- backup --------------------------------------------------------------------------------


def tenant_backup(*, slug: str, out: Path, progress: Progress = silent) -> Backup:
    """Writes the tenant's backup to `out`, which must not exist (never overwrites)."""
    out = Path(out).absolute()
    if out.exists():
        raise Conflict(f"{out} exists; a backup never overwrites a file.")
    if not out.parent.is_dir():
        raise InvalidInput(f"{out.parent} is not a directory.")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as work:
        folder = Path(work)
        manifest, public = _dump(slug, folder / "schema.dump", progress)
        (folder / "public.json").write_text(json.dumps(public, indent=1, sort_keys=True))
        anchors = anchor_file(manifest["schema"])
        if anchors.exists():
            shutil.copyfile(anchors, folder / "anchors.jsonl")
        members = [name for name in MEMBERS if (folder / name).exists()]
        manifest["members"] = {
            name: {"sha256": _sha256(folder / name), "bytes": (folder / name).stat().st_size}
            for name in members
        }
        partial = folder / "backup.tar"
        with tarfile.open(partial, "w") as tar:
            encoded = json.dumps(manifest, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mtime = len(encoded), int(time.time())
            tar.addfile(info, io.BytesIO(encoded))
            for name in members:
                tar.add(folder / name, arcname=name)
        with partial.open("rb") as file:
            os.fsync(file.fileno())
        try:
            os.link(partial, out)  # refuses an existing name, unlike a rename
        except FileExistsError as exc:
            raise Conflict(f"{out} exists; a backup never overwrites a file.") from exc
    digest = _sha256(out)
    progress(
        f"wrote {out} ({_size(out.stat().st_size)}, sha256 {digest}) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return Backup(out, digest, manifest)


def _dump(slug: str, target: Path, progress: Progress) -> tuple[dict[str, Any], dict[str, Any]]:
    """pg_dump of the tenant's schema, and its public rows and heads, in one snapshot."""
    with connect() as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        row = conn.execute(
            "SELECT pg_export_snapshot(), now(), current_setting('server_version'),"
            " (SELECT to_jsonb(t) FROM public.tenants_tenant t WHERE t.slug = %s)",
            [slug],
        ).fetchone()
        assert row is not None  # noqa: S101  (a SELECT without FROM returns one row)
        snapshot, taken_at, server_version, tenant = row
        if tenant is None:
            raise NotFound(f"No tenant {slug}.")
        schema = tenant["schema_name"]
        domains = [
            domain
            for (domain,) in conn.execute(
                "SELECT to_jsonb(d) FROM public.tenants_domain d WHERE d.tenant_id = %s"
                " ORDER BY d.id",
                [tenant["id"]],
            )
        ]
        rows = {
            table: [
                row
                for (row,) in conn.execute(
                    sql.SQL("SELECT to_jsonb(r) FROM public.{} r WHERE {} = %s ORDER BY 1").format(
                        sql.Identifier(table), sql.Identifier(column)
                    ),
                    [tenant["id"]],
                )
            ]
            for table, column in tenant_tables(conn)
        }
        name = sql.Identifier(schema)
        tenant_keys = [
            {"id": version, "wrapped": base64.b64encode(bytes(wrapped)).decode()}
            for version, wrapped in conn.execute(
                sql.SQL("SELECT id, wrapped FROM {}.core_tenantkey ORDER BY id").format(name)
            )
        ]
        heads = conn.execute(
            sql.SQL(
                "SELECT (SELECT count(*) FROM {0}.eventstore_event),"
                " (SELECT coalesce(max(position), 0) FROM {0}.eventstore_event),"
                " (SELECT count(*) FROM {0}.audit_auditentry),"
                " (SELECT hash FROM {0}.audit_auditentry ORDER BY id DESC LIMIT 1)"
            ).format(name)
        ).fetchone()
        assert heads is not None  # noqa: S101
        migrations = [
            [app, migration]
            for app, migration in conn.execute(
                sql.SQL("SELECT app, name FROM {}.django_migrations ORDER BY id").format(name)
            )
        ]
        progress(
            f"{slug}: snapshot at {taken_at.isoformat()}: {heads[0]} events (last position "
            f"{heads[1]}), {heads[2]} audit entries; dumping schema {schema}"
        )
        started = time.perf_counter()
        run_tool(
            [pg_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot}",
             f"--schema={schema}", f"--file={target}"]
        )  # fmt: skip
        progress(
            f"{slug}: schema dumped, {_size(target.stat().st_size)} "
            f"in {time.perf_counter() - started:.1f} s"
        )
        conn.rollback()
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "slug": slug,
        "schema": schema,
        "taken_at": taken_at.isoformat(),
        "server_version": server_version,
        "events": {"count": heads[0], "last_position": heads[1]},
        "audit": {"entries": heads[2], "head": heads[3] or ""},
        "migrations": migrations,
    }
    public = {"tenant": tenant, "domains": domains, "tenant_keys": tenant_keys, "rows": rows}
    return manifest, public


# Public tables with a foreign key to the tenant that a backup does not carry: host names
# (carried apart: a copy under a new slug gets its own) and the cell's work heads.
NOT_CARRIED = ("tenants_domain", "tenants_tenantwork")


TENANT_TABLES = """
SELECT cl.relname, a.attname FROM pg_constraint con
JOIN pg_class cl ON cl.oid = con.conrelid
JOIN pg_namespace n ON n.oid = cl.relnamespace
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
WHERE con.contype = 'f' AND n.nspname = 'public'
  AND con.confrelid = 'public.tenants_tenant'::regclass
ORDER BY cl.relname
"""


def tenant_tables(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """The public tables whose rows belong to one tenant (a foreign key to it), and that
    column: its subscription, the subscription's history, its statements, its storage."""
    found = conn.execute(TENANT_TABLES).fetchall()
    return [(str(table), str(column)) for table, column in found if table not in NOT_CARRIED]


def insert_public_rows(rows: dict[str, list[dict[str, Any]]], tenant_id: int) -> int:
    """Inserts a backup's public rows for the tenant `tenant_id` (on Django's connection, in
    the caller's transaction), each with a new id; a row whose unique value exists already
    (a statement's number, kept by the original beside which a copy is restored) is left
    out. Returns how many were inserted."""
    inserted = 0
    with connection.cursor() as cursor:
        for table, column in tenant_tables_here():
            for row in rows.get(table, []):
                cursor.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema ="
                    " 'public' AND table_name = %s AND column_name <> 'id' ORDER BY 1",
                    [table],
                )
                columns = [name for (name,) in cursor.fetchall() if name in row]
                names = sql.SQL(", ").join(map(sql.Identifier, columns))
                cursor.execute(
                    sql.SQL(
                        "INSERT INTO public.{table} ({names}) SELECT {names}"
                        " FROM jsonb_populate_record(NULL::public.{table}, %s::jsonb)"
                        " ON CONFLICT DO NOTHING"
                    )
                    .format(table=sql.Identifier(table), names=names)
                    .as_string(connection.connection),
                    [json.dumps({**row, column: tenant_id})],
                )
                inserted += cursor.rowcount
    return inserted


def tenant_tables_here() -> list[tuple[str, str]]:
    """`tenant_tables` of the app's own database, on Django's connection."""
    with connection.cursor() as cursor:
        cursor.execute(TENANT_TABLES)
        found = cursor.fetchall()
    return [(str(table), str(column)) for table, column in found if table not in NOT_CARRIED]


# --- reading a backup ------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    """A backup whose every member matched its checksum, unpacked into `folder`."""

    manifest: dict[str, Any]
    public: dict[str, Any]
    folder: Path

    @property
    def dump(self) -> Path:
        return self.folder / "schema.dump"

    @property
    def anchors(self) -> bytes | None:
        path = self.folder / "anchors.jsonl"
        return path.read_bytes() if path.exists() else None


@contextmanager
def open_backup(path: Path) -> Iterator[Opened]:
    """Unpacks a backup into a temporary folder after checking it whole; refuses a file
    that is not one, or whose members do not match the manifest's checksums."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"No backup at {path}.")
    with tempfile.TemporaryDirectory(prefix="tenant-restore-") as work:
        folder = Path(work)
        try:
            with tarfile.open(path, "r") as tar:
                names = tar.getnames()
                if names[:1] != ["manifest.json"] or not set(names) <= {"manifest.json", *MEMBERS}:
                    raise InvalidInput(f"{path} is not a tenant backup.")
                # Regular files only, each written by its name (one of the fixed names
                # above, so none reaches outside the folder). Not `extractall(filter=...)`:
                # Python 3.11 has that argument only from 3.11.4 (Debian 12 ships 3.11.2).
                for member in tar.getmembers():
                    source = tar.extractfile(member) if member.isfile() else None
                    if source is None:
                        raise InvalidInput(f"{path} is not a tenant backup.")
                    with source, (folder / member.name).open("wb") as target:
                        shutil.copyfileobj(source, target)
            manifest = json.loads((folder / "manifest.json").read_text())
        except (tarfile.TarError, ValueError, OSError) as exc:
            raise InvalidInput(f"{path} is not a readable tenant backup: {exc}") from exc
        if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            raise InvalidInput(f"{path} is not a tenant backup of format {FORMAT} {VERSION}.")
        listed = manifest.get("members", {})
        present = set(names) - {"manifest.json"}
        if present != set(listed) or "schema.dump" not in present:
            raise InvalidInput(f"{path}: its members do not match its manifest.")
        for name, expected in listed.items():
            if _sha256(folder / name) != expected["sha256"]:
                raise InvalidInput(f"{path}: {name} does not match its checksum; refusing it.")
        public = json.loads((folder / "public.json").read_text())
        yield Opened(manifest, public, folder)


def check_keys(backup: Opened) -> None:
    """Refuses a backup whose tenant keys this deployment's master key cannot open, before a
    restore changes anything."""
    schema = backup.manifest["schema"]
    try:
        for row in backup.public["tenant_keys"]:
            unwrap_tenant_key(base64.b64decode(row["wrapped"]), schema)
    except InvalidTag as exc:
        if keystore.secret(schema) is None:
            raise InvalidInput(
                "The tenant's keys cannot be opened: the key store has no secret for its "
                "schema (an erased tenant's is destroyed, so its backups stay unreadable; "
                "a restore elsewhere needs the key store restored too)."
            ) from exc
        raise InvalidInput(
            "The tenant's keys do not open with this deployment's master key: restore with "
            "the MYMEDIC_MASTER_KEY the backup was made under (or list it in "
            "MYMEDIC_MASTER_KEYS_RETIRED and run rotate_keys --master afterwards)."
        ) from exc


def adopt_anchors(schema: str, anchors: bytes | None, progress: Progress = silent) -> None:
    """Makes the backup's anchors the schema's. Anchors published after the backup name
    entries the restore took away, so an existing file is kept beside it as the record of
    what was lost (`<schema>.jsonl.before-restore-<UTC time>`), never deleted."""
    path = anchor_file(schema)
    if path.exists():
        if anchors is not None and path.read_bytes() == anchors:
            return
        kept = path.with_name(
            f"{path.name}.before-restore-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        )
        path.rename(kept)
        progress(f"{schema}: the anchors published before this restore are kept in {kept}")
    if anchors is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(anchors)


# --- loading a schema ------------------------------------------------------------------------


def schema_exists(schema: str, dbname: str | None = None) -> bool:
    with connect(dbname, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone()
    return row is not None


def load_schema(dump: Path, *, source: str, target: str, progress: Progress = silent) -> None:
    """Restores `dump` (the schema `source`) into the app's database as schema `target`,
    which must not exist. When `source` is free here the dump is restored as it is and
    renamed; when it is taken (a copy beside the original), the dump is restored and renamed
    in a scratch database first, then dumped again from there."""
    restore = [pg_tool("pg_restore"), "--exit-on-error", "--single-transaction", "--no-owner"]
    if not schema_exists(source):
        run_tool([*restore, f"--dbname={_params()['dbname']}", str(dump)])
        if source != target:
            with connect(autocommit=True) as conn:
                conn.execute(
                    sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                        sql.Identifier(source), sql.Identifier(target)
                    )
                )
        return
    scratch = f"{_params()['dbname']}_restore_{uuid.uuid4().hex[:8]}"
    progress(f"schema {source} is in use here: renaming to {target} in scratch database {scratch}")
    with connect(autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch))
        )
    try:
        copy_public_definitions(scratch, dump.parent)
        run_tool([*restore, f"--dbname={scratch}", str(dump)], dbname=scratch)
        with connect(scratch, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                    sql.Identifier(source), sql.Identifier(target)
                )
            )
        renamed = dump.with_name("renamed.dump")
        run_tool(
            [pg_tool("pg_dump"), "--format=custom", f"--schema={target}", f"--file={renamed}"],
            dbname=scratch,
        )
        run_tool([*restore, f"--dbname={_params()['dbname']}", str(renamed)])
    finally:
        with connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
            )


def params_of(url: str) -> dict[str, str]:
    """Connection parameters of a database URL (`postgres://user:password@host:port/name`)."""
    db = dj_database_url.parse(url)
    found = {
        "host": str(db.get("HOST") or "127.0.0.1"),
        "port": str(db.get("PORT") or 5432),
        "user": str(db.get("USER") or ""),
        "password": str(db.get("PASSWORD") or ""),
        "dbname": str(db.get("NAME") or ""),
    }
    return {key: value for key, value in found.items() if value}


# Public rows that migrations seed, the same in every cell (a tenant's public rows refer to
# them: its subscription to its plan): a database given the definitions gets them too.
SEEDED_TABLES = ("plans_module", "plans_plan", "plans_plan_modules")


def copy_public_definitions(dbname: str, folder: Path, *, server: str | None = None) -> None:
    """Gives the empty database `dbname` (on this server, or on the one of the database URL
    `server`) this database's public schema without its rows: tables, functions and
    extensions, which tenant schemas use (their triggers call public functions, their
    constraints need the extensions), and the rows migrations seed (`SEEDED_TABLES`).
    `folder` holds the definitions file."""
    params = {**(params_of(server) if server else app_params()), "dbname": dbname}
    with psycopg.connect(**params, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute("DROP SCHEMA public")
    public = folder / "public-definitions.sql"
    run_tool(
        [pg_tool("pg_dump"), "--schema-only", "--schema=public", "--extension=*",
         "--no-owner", f"--file={public}"]
    )  # fmt: skip
    seeded = folder / "public-seeded-rows.sql"
    run_tool(
        [pg_tool("pg_dump"), "--data-only", "--no-owner", f"--file={seeded}",
         *(f"--table=public.{table}" for table in SEEDED_TABLES)]
    )  # fmt: skip
    for script in (public, seeded):
        psql = [pg_tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(script)]
        done = subprocess.run(  # noqa: S603  (our own arguments, no shell)
            psql, env=env_of(params), capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise InvalidInput(f"psql failed: {done.stderr.strip()[-2000:]}")


def drop_schema(schema: str) -> None:
    with connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
