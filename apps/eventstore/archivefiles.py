"""Archive files of log partitions: gzip-compressed NDJSON, one row per line, in id order,
with a JSON manifest beside it. One home for the format: the archive writes with it,
`verify_audit --archives` and a restore read with it."""

import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings

CHUNK = 1 << 20


def archive_dir(schema: str, table: str) -> Path:
    return Path(settings.MYMEDIC_ARCHIVE_DIR) / schema / table


def data_path(schema: str, table: str, partition: str) -> Path:
    return archive_dir(schema, table) / f"{partition}.ndjson.gz"


def manifest_path(data: Path) -> Path:
    return data.with_name(data.name.removesuffix(".ndjson.gz") + ".manifest.json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_rows(path: Path, lines: Iterator[str]) -> int:
    """Writes each JSON line (already encoded by PostgreSQL) and returns how many. The file is
    written beside its name and renamed into place once complete and synced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    count = 0
    with partial.open("wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as packed:
            for line in lines:
                packed.write(line.encode())
                packed.write(b"\n")
                count += 1
        raw.flush()
        os.fsync(raw.fileno())
    partial.replace(path)
    return count


def partial_path(data: Path) -> Path:
    return data.with_name(data.name + ".partial")


def append_member(path: Path, offset: int, lines: Iterable[str]) -> tuple[int, int]:
    """Writes `lines` as one gzip member at byte `offset` of `path`, cutting off whatever
    lies past it (what a killed run wrote after its last checkpoint), synced. Returns the
    rows written and the offset after them. A file of members is one gzip stream to every
    reader, and the same lines in the same chunks give the same bytes (no name, mtime 0)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("r+b" if path.exists() else "w+b") as raw:
        raw.truncate(offset)
        raw.seek(offset)
        with gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0) as packed:
            for line in lines:
                packed.write(line.encode())
                packed.write(b"\n")
                count += 1
        raw.flush()
        os.fsync(raw.fileno())
        return count, raw.tell()


def read_member(path: Path, offset: int) -> Iterator[dict[str, Any]]:
    """The rows of the file from byte `offset` (a member's start) to its end."""
    with path.open("rb") as raw:
        raw.seek(offset)
        with gzip.open(raw, "rt", encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def write_manifest(data: Path, manifest: dict[str, Any]) -> None:
    manifest_path(data).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def read_manifest(data: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(manifest_path(data).read_text())
    return loaded
