"""Looks for strings everywhere the app keeps anything: every table of every schema of the
database (public included), the schema and database names, every key and value of every
logical database of the Redis server, the warehouse's databases, and every file under the
app's data folders. Written apart from the erasure code, so it does not share its blind spots.
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.db import connection
from psycopg import sql

from apps.reconciliation.warehouse import backend

Found = dict[str, set[str]]  # place → the needles found there


def _forms(needle: str | bytes) -> list[bytes]:
    """A needle as it may be written: text, or bytes in raw and hex form (bytea as text)."""
    if isinstance(needle, bytes):
        return [needle, needle.hex().encode()]
    return [needle.encode()]


def _label(needle: str | bytes) -> str:
    return needle if isinstance(needle, str) else f"bytes:{needle.hex()[:12]}…"


def database(needles: Iterable[str | bytes], skip: tuple[str, str, int] | None = None) -> Found:
    """Rows (as text) of every table of every schema, and schema and database names. `skip`
    (schema, table, id) is one row left out of the search."""
    texts = {_label(n): (n if isinstance(n, str) else n.hex()) for n in needles}
    found: Found = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schemaname, tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
        tables = cursor.fetchall()
        for schema, table in tables:
            where = sql.SQL("")
            if skip and (schema, table) == skip[:2]:
                where = sql.SQL(" AND x.id <> {}").format(sql.Literal(skip[2]))
            query = sql.SQL(
                "SELECT n FROM unnest(%s::text[]) AS n WHERE EXISTS"
                " (SELECT 1 FROM {}.{} AS x WHERE strpos(x::text, n) > 0{})"
            ).format(sql.Identifier(schema), sql.Identifier(table), where)
            cursor.execute(query.as_string(connection.connection), [list(texts.values())])
            present = {row[0] for row in cursor.fetchall()}
            hits = {label for label, text in texts.items() if text in present}
            if hits:
                found[f"postgres:{schema}.{table}"] = hits
        cursor.execute("SELECT nspname FROM pg_namespace UNION ALL SELECT datname FROM pg_database")
        names = " ".join(name for (name,) in cursor.fetchall())
    hits = {label for label, text in texts.items() if text in names}
    if hits:
        found["postgres:names"] = hits
    return found


def _values(client: redis.Redis, key: bytes) -> list[bytes]:
    kind = client.type(key)
    if kind == b"string":
        return [client.get(key) or b""]
    if kind == b"list":
        return list(client.lrange(key, 0, -1))
    if kind == b"hash":
        return [f + b"\0" + v for f, v in client.hscan_iter(key)]
    if kind == b"set":
        return list(client.sscan_iter(key))
    if kind == b"zset":
        return [m for m, _ in client.zscan_iter(key)]
    if kind == b"stream":
        return [repr(entry).encode() for entry in client.xrange(key)]
    return []


def redis_server(needles: Iterable[str | bytes]) -> Found:
    """Every key name and value of every logical database of the app's Redis server."""
    forms = {_label(n): _forms(n) for n in needles}
    url = urlsplit(settings.REDIS_URL)
    found: Found = {}
    first = redis.Redis(host=url.hostname or "127.0.0.1", port=url.port or 6379)
    count = int(first.config_get("databases")["databases"])
    first.close()
    for db in range(count):
        client = redis.Redis(host=url.hostname or "127.0.0.1", port=url.port or 6379, db=db)
        try:
            for key in client.scan_iter(count=1000):
                blobs = [key, *_values(client, key)]
                hits = {
                    label
                    for label, variants in forms.items()
                    if any(v in blob for v in variants for blob in blobs)
                }
                if hits:
                    found.setdefault(f"redis:{db}", set()).update(hits)
        finally:
            client.close()
    return found


def data_folders() -> list[Path]:
    """The app's own data folders (not PostgreSQL's or Redis's: their files hold the database
    itself, which `database` searches through the server)."""
    warehouse = str(settings.MYMEDIC_WAREHOUSE_URL)
    folders = [
        settings.MYMEDIC_NOTIFY_DIR,
        settings.MYMEDIC_EXPORT_DIR,
        settings.MYMEDIC_FHIR_EXPORT_DIR,
        settings.MYMEDIC_BACKUP_DIR,
        settings.MYMEDIC_AUDIT_ANCHOR_DIR,
        settings.EMAIL_FILE_PATH,
        settings.MYMEDIC_KEYSTORE_DIR,
    ]
    if warehouse.startswith("chdb://"):
        folders.append(str(Path(warehouse.removeprefix("chdb://")).parent))
    return [Path(folder) for folder in folders]


def files(needles: Iterable[str | bytes], extra: Iterable[Path] = ()) -> Found:
    """Names and contents of every file under the data folders."""
    forms = {_label(n): _forms(n) for n in needles}
    found: Found = {}
    for folder in [*data_folders(), *extra]:
        if not folder.exists():
            continue
        for path in [folder, *folder.rglob("*")]:
            blobs = [str(path).encode()]
            if path.is_file():
                blobs.append(path.read_bytes())
            hits = {
                label
                for label, variants in forms.items()
                if any(v in blob for v in variants for blob in blobs)
            }
            if hits:
                found.setdefault(f"file:{path}", set()).update(hits)
    return found


def warehouse_databases(needles: Iterable[str | bytes]) -> Found:
    names = " ".join(str(row[0]) for row in backend().rows("SHOW DATABASES"))
    hits = {_label(n) for n in needles if isinstance(n, str) and n in names}
    return {"warehouse:databases": hits} if hits else {}


def everywhere(needles: list[str | bytes], skip: Any = None) -> Found:
    return {
        **database(needles, skip),
        **redis_server(needles),
        **warehouse_databases(needles),
        **files(needles),
    }
