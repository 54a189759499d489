"""The key store: per tenant, a secret that the tenant's keys are wrapped with, beside the
master key, kept outside the database.

master key (environment) + key-store secret (file) ─wrap→ tenant key (row in the schema)

The database, its WAL, its base backups and a tenant's own backup (`apps.tenants.backups`)
hold the wrapped tenant keys but never the secret, so destroying a tenant's entry here
(`destroy`, done when a closed tenant is erased) leaves every copy of its sealed data, in
every backup, WAL segment or export that survives, impossible to open: crypto-shredding.

One file per tenant schema under `MYMEDIC_KEYSTORE_DIR` (mode 0600). Every cell of a region
must see the same store (a tenant moves between cells with its wrapped keys), and it is
backed up apart from the databases (docs/COST-MODEL.md, docs/OPERATIONS.md "Closing and
erasing a tenant"). In production point it at a secret volume or a KMS-backed mount.
"""

import contextlib
import os
import re
import tempfile
from pathlib import Path

from django.conf import settings

SECRET_BYTES = 32
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def folder() -> Path:
    return Path(settings.MYMEDIC_KEYSTORE_DIR)


def path_of(schema: str) -> Path:
    if not _SCHEMA.match(schema):
        raise ValueError(f"Not a schema name: {schema!r}")
    return folder() / f"{schema}.key"


def secret(schema: str) -> bytes | None:
    """The schema's secret, or None when it has none (a tenant made before the key store, or
    one whose entry was destroyed)."""
    try:
        value = path_of(schema).read_bytes()
    except FileNotFoundError:
        return None
    if len(value) != SECRET_BYTES:
        raise ValueError(f"The key store entry of {schema} is damaged.")
    return value


def ensure_secret(schema: str) -> bytes:
    """The schema's secret, made when it has none. Two callers that race get the same one:
    the entry appears whole or not at all (written aside, then linked, which refuses an
    existing name)."""
    found = secret(schema)
    if found is not None:
        return found
    target = path_of(schema)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=".new-")
    try:
        os.write(fd, os.urandom(SECRET_BYTES))
        os.fsync(fd)
        os.close(fd)
        with contextlib.suppress(FileExistsError):  # made by a concurrent caller: use it
            os.link(partial, target)
    finally:
        os.unlink(partial)
    made = secret(schema)
    assert made is not None  # noqa: S101  (linked above, or by the caller that won the race)
    return made


def destroy(schema: str) -> bool:
    """Overwrites the schema's entry with random bytes and removes it; False when there was
    none. On storage that never rewrites in place (copy-on-write, SSD wear levelling) the
    overwrite is best effort: there the store must be one whose delete is final (a KMS)."""
    path = path_of(schema)
    try:
        with path.open("r+b") as file:
            file.write(os.urandom(SECRET_BYTES))
            file.flush()
            os.fsync(file.fileno())
    except FileNotFoundError:
        return False
    path.unlink()
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return True
