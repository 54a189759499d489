"""Anchors: the audit chain's head, signed and published outside the database.

The chain's hashes are unkeyed, so someone with write access to the database could rewrite
an entry and re-hash everything after it. Every few minutes the head of each tenant's chain
(entry id and hash) is signed with HMAC-SHA256 under `MYMEDIC_AUDIT_ANCHOR_KEY`, a key that
lives in the environment and never in the database, and appended to a write-once file per
tenant under `MYMEDIC_AUDIT_ANCHOR_DIR` (on its own volume or object storage in production).
`verify()` then checks that every anchored entry still has the hash it was anchored with: a
rewritten past no longer matches its anchors, and a forged anchor fails its signature.
"""

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.core.db import connection


@dataclass(frozen=True)
class Anchor:
    schema: str
    entry: int
    hash: str
    at: str


def _key() -> bytes:
    return base64.urlsafe_b64decode(settings.MYMEDIC_AUDIT_ANCHOR_KEY.encode())


def _signature(anchor: Anchor) -> str:
    message = f"{anchor.schema}\0{anchor.entry}\0{anchor.hash}\0{anchor.at}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def sign(message: str) -> str:
    """HMAC-SHA256 of `message` under the anchor key (archive manifests use it too)."""
    return hmac.new(_key(), message.encode(), hashlib.sha256).hexdigest()


def signature_matches(message: str, mac: str) -> bool:
    return hmac.compare_digest(sign(message), mac)


def anchor_file(schema: str | None = None) -> Path:
    return Path(settings.MYMEDIC_AUDIT_ANCHOR_DIR) / f"{schema or connection.schema_name}.jsonl"


def read_anchors(schema: str | None = None) -> list[tuple[Anchor | None, str]]:
    """Each line of the tenant's file: the anchor (None when unreadable) and its signature."""
    path = anchor_file(schema)
    if not path.exists():
        return []
    lines: list[tuple[Anchor | None, str]] = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
            anchor = Anchor(row["schema"], int(row["entry"]), str(row["hash"]), str(row["at"]))
            lines.append((anchor, str(row["mac"])))
        except (ValueError, KeyError, TypeError):
            lines.append((None, ""))
    return lines


def publish() -> Anchor | None:
    """Appends the current head of this tenant's chain, unless it is anchored already."""
    head = AuditEntry.objects.order_by("-id").values_list("id", "hash").first()
    if head is None:
        return None
    anchors = [anchor for anchor, _ in read_anchors() if anchor is not None]
    if anchors and anchors[-1].entry == head[0]:
        return None
    anchor = Anchor(connection.schema_name, head[0], head[1], timezone.now().isoformat())
    path = anchor_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({**anchor.__dict__, "mac": _signature(anchor)}, sort_keys=True) + "\n"
    # O_APPEND: a line is only ever added at the end; fsync before the anchor counts.
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, line.encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return anchor


def check(archived: int = 0, archived_hashes: dict[int, str] | None = None) -> tuple[int, str]:
    """(anchors checked, the first problem or "").

    Entries up to `archived` left the database for archive files: their anchors are checked
    against `archived_hashes` (read from those files) when given, and otherwise stand for
    the signed archive checkpoint that replaced them."""
    lines = read_anchors()
    wanted = {anchor.entry for anchor, _ in lines if anchor is not None}
    hashes = dict(AuditEntry.objects.filter(id__in=wanted).values_list("id", "hash"))
    for number, (anchor, mac) in enumerate(lines, start=1):
        if anchor is None or not hmac.compare_digest(mac, _signature(anchor)):
            return number - 1, f"anchor {number} is not signed by this deployment's key"
        if anchor.schema != connection.schema_name:
            return number - 1, f"anchor {number} belongs to another tenant"
        if anchor.entry <= archived:
            if archived_hashes is None:
                continue
            hashes[anchor.entry] = archived_hashes.get(anchor.entry, "")
        if anchor.entry not in hashes:
            return number - 1, f"entry {anchor.entry}, anchored at {anchor.at}, is gone"
        if hashes[anchor.entry] != anchor.hash:
            return number - 1, (
                f"entry {anchor.entry} no longer has the hash anchored at {anchor.at}: "
                "the trail was rewritten"
            )
    return len(lines), ""
