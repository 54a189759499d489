"""Erasing a closed tenant, step by step, each step safe to run again.

Order matters: what needs the tenant's keys (finding its lines in shared files) runs before
the keys are destroyed, and Redis is emptied last, once no request can reach the tenant any
more (its schema and host names are gone), so nothing is cached again behind the purge.

1. `files`     its own files (exports, FHIR exports, audit anchors, backups in the cell's
               backup folder), and its lines in the shared local outbox and mail folder;
2. `warehouse` its warehouse database (`DROP DATABASE … SYNC`);
3. `keys`      its key-store secret (`apps.core.keystore.destroy`): from here on, every copy
               of its wrapped keys, so of its sealed data, anywhere, is unreadable;
4. `schema`    its schema (tables, event log, audit trail, users, sessions, tokens), its public
               rows (domains, subscription and history, work heads, storage figures, spare and
               migration records), its place in the directory; statements stay, tenant emptied;
5. `redis`     every key of the app's Redis databases that names it (cached reads, counters,
               throttles, queued tasks).

Each step's counts are written to the closure record as it completes; a rerun after a crash
starts at the first step not recorded.
"""

import fcntl
import json
import logging
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.audit.models import AuditEntry
from apps.audit.trail import record
from apps.clinic.models import User
from apps.core import crypto, keys, keystore
from apps.core.db import connection
from apps.eventstore.models import Event
from apps.lifecycle import files
from apps.lifecycle.models import STEPS, TenantClosure
from apps.notifications.models import Delivery
from apps.plans.models import Statement
from apps.reconciliation.warehouse import TenantWarehouse
from apps.scheduling.models import Appointment, Patient
from apps.tenants.backups import schema_exists
from apps.tenants.models import SchemaMigration, SpareSchema, Tenant

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
MAIL_SEPARATOR = "-" * 79


def silent(message: str) -> None:
    pass


def needles(closure: TenantClosure) -> re.Pattern[bytes]:
    """The tenant's names (schema, slug) as whole words: `acme` never matches `acme-two`."""
    names = "|".join(re.escape(name) for name in {closure.schema_name, closure.slug} if name)
    return re.compile(rb"(?<![A-Za-z0-9_-])(?:" + names.encode() + rb")(?![A-Za-z0-9_-])")


# --- the start: audited, counted, the audit chain's final head --------------------------------


def begin(closure: TenantClosure, *, actor: str) -> None:
    """Audits the erasure in the tenant's own trail, then notes what the tenant held and the
    hash of that last entry, the chain's final head. Once only (a rerun keeps the first)."""
    schema = closure.schema_name
    if closure.audit_head_sha256 or not schema_exists(schema):
        return
    with schema_context(schema):
        with transaction.atomic():
            record(
                "tenant.erased",
                actor_role="platform",
                target=f"tenant:{closure.tenant_id}",
                detail={"by": actor[:254], "closure": closure.pk},
            )
        head = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first()
        closure.counts = {
            "patients": Patient.objects.count(),
            "appointments": Appointment.objects.count(),
            "events": Event.objects.count(),
            "audit_entries": AuditEntry.objects.count(),
            "staff": User.objects.count(),
        }
    closure.audit_head_sha256 = head or ""
    closure.save(update_fields=["counts", "audit_head_sha256"])


# --- 1. files --------------------------------------------------------------------------------


def erase_files(closure: TenantClosure) -> dict[str, int]:
    schema, slug = closure.schema_name, closure.slug
    paths = files.tenant_paths(schema, slug)
    removed_bytes = files.bytes_of(paths)
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    return {
        "files": len(paths),
        "bytes": removed_bytes,
        "outbox_lines": _purge_outbox(closure),
        "mail_messages": _purge_mail(needles(closure)),
    }


def _tenant_messages(schema: str) -> tuple[set[str], set[str]]:
    """The keys of the tenant's deliveries and its patients' addresses (opened with its keys,
    which is why this step runs before they are destroyed)."""
    if not schema_exists(schema):
        return set(), set()
    with schema_context(schema), keys.remembered():
        delivery_keys = set(Delivery.objects.values_list("key", flat=True))
        addresses: set[str] = set()
        for patient in Patient.objects.filter(erased__isnull=True):
            addresses.update(value for value in (patient.phone, patient.email) if value)
    return delivery_keys, addresses


def _purge_outbox(closure: TenantClosure) -> int:
    """The local message outbox (`FileBackend`: one JSON line per message, every tenant's in
    one file per channel) loses the tenant's lines: those its sign-in codes wrote (their key
    names the schema) and those its dispatcher wrote (its delivery key, to its patient)."""
    folder = Path(settings.MYMEDIC_NOTIFY_DIR)
    if not folder.is_dir():
        return 0
    delivery_keys, addresses = _tenant_messages(closure.schema_name)
    prefix = f"{closure.schema_name}:"

    def is_tenants(line: str) -> bool:
        try:
            message = json.loads(line)
        except ValueError:
            return False
        key, to = str(message.get("key", "")), str(message.get("to", ""))
        return key.startswith(prefix) or (key in delivery_keys and to in addresses)

    return sum(_rewrite(path, is_tenants) for path in sorted(folder.glob("*.jsonl")))


def _rewrite(path: Path, drop: Callable[[str], bool]) -> int:
    """Rewrites `path` in place without the lines `drop` picks, under the lock the outbox's
    writers take; the number of lines dropped."""
    with path.open("r+", encoding="utf-8") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        lines = file.read().splitlines(keepends=True)
        kept = [line for line in lines if not drop(line)]
        if len(kept) != len(lines):
            file.seek(0)
            file.write("".join(kept))
            file.truncate()
            file.flush()
    return len(lines) - len(kept)


def _purge_mail(pattern: re.Pattern[bytes]) -> int:
    """The local mail folder (Django's file backend: messages separated by a line of dashes)
    loses the messages that name the tenant (its confirmation links, staff invitations)."""
    folder = Path(settings.EMAIL_FILE_PATH)
    if not folder.is_dir():
        return 0
    dropped = 0
    for path in sorted(each for each in folder.iterdir() if each.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace")
        messages = text.split(MAIL_SEPARATOR)
        kept = [m for m in messages if not pattern.search(m.encode())]
        if len(kept) == len(messages):
            continue
        dropped += len(messages) - len(kept)
        remaining = MAIL_SEPARATOR.join(kept)
        if remaining.strip(" \n-"):
            path.write_text(remaining, encoding="utf-8")
        else:
            path.unlink()
    return dropped


# --- 2. warehouse ----------------------------------------------------------------------------


def erase_warehouse(closure: TenantClosure) -> dict[str, int]:
    """Drops the tenant's warehouse database at once (SYNC: not after ClickHouse's delay). A
    warehouse that cannot be reached fails the step, and a rerun does it."""
    warehouse = TenantWarehouse(closure.schema_name)
    warehouse.store.execute(f"DROP DATABASE IF EXISTS {warehouse.db} SYNC")
    return {"databases": 1}


# --- 3. keys ---------------------------------------------------------------------------------


def erase_keys(closure: TenantClosure) -> dict[str, int]:
    versions = 0
    if schema_exists(closure.schema_name):
        with schema_context(closure.schema_name), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM core_tenantkey")
            (versions,) = cursor.fetchone()
    destroyed = keystore.destroy(closure.schema_name)
    crypto.unwrap_tenant_key.cache_clear()
    return {"key_store_entries": int(destroyed), "tenant_key_versions": int(versions)}


# --- 4. schema and public rows ---------------------------------------------------------------


def erase_schema(closure: TenantClosure) -> dict[str, int]:
    """The schema and every public row of the tenant, in one transaction."""
    schema = closure.schema_name
    with transaction.atomic():
        tables = 0
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", [schema])
            (tables,) = cursor.fetchone()
        kept = list(
            Statement.objects.filter(tenant_id=closure.tenant_id)
            .order_by("number")
            .values_list("number", flat=True)
        )
        if kept:
            closure.statements_kept = sorted({*closure.statements_kept, *kept})
            closure.save(update_fields=["statements_kept"])
        SpareSchema.objects.filter(claimed_as=schema).delete()
        SchemaMigration.objects.filter(schema=schema).delete()
        pattern = needles(closure)
        named = [
            entry.pk
            for entry in LogEntry.objects.only("pk", "object_repr", "change_message")
            if pattern.search(f"{entry.object_repr}\n{entry.change_message}".encode())
        ]
        LogEntry.objects.filter(pk__in=named).delete()
        tenant = Tenant.objects.filter(pk=closure.tenant_id, slug=closure.slug).first()
        if tenant is not None:
            tenant.delete(force_drop=True)  # drops the schema; domains, subscription… cascade
        elif schema_exists(schema):
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return {"tables": int(tables), "statements_kept": len(kept), "admin_log_entries": len(named)}


# --- 5. Redis --------------------------------------------------------------------------------


def redis_urls() -> list[str]:
    """Every Redis database the app writes: the cache (reads, counters, throttles), the Celery
    broker (queued tasks name their schema) and the live pushes' database."""
    live = settings.EVENTSTREAM_REDIS
    urls = [
        str(settings.CACHES["default"]["LOCATION"]),
        str(settings.CELERY_BROKER_URL),
        f"redis://{live['host']}:{live['port']}/{live['db']}",
    ]
    return [url for url in dict.fromkeys(urls) if url.startswith(("redis://", "rediss://"))]


def erase_redis(closure: TenantClosure) -> dict[str, int]:
    pattern = needles(closure)
    removed = 0
    for url in redis_urls():
        client = redis.Redis.from_url(url, socket_timeout=10)
        try:
            removed += _purge(client, pattern)
        finally:
            client.close()
    return {"redis_entries": removed}


def _purge(client: Any, pattern: re.Pattern[bytes]) -> int:
    """Deletes keys whose name or value names the tenant, and the tenant's members of lists,
    hashes, sets and sorted sets. A walk of the whole database: erasure is rare, and Redis
    keeps no index by tenant."""
    removed = 0
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if pattern.search(key):
            removed += client.delete(key)
        elif kind == b"string":
            value = client.get(key)
            if value is not None and pattern.search(value):
                removed += client.delete(key)
        elif kind == b"list":
            for item in set(client.lrange(key, 0, -1)):
                if pattern.search(item):
                    removed += client.lrem(key, 0, item)
        elif kind == b"hash":
            fields = [f for f, v in client.hscan_iter(key) if pattern.search(f + b"\0" + v)]
            removed += client.hdel(key, *fields) if fields else 0
        elif kind == b"set":
            members = [m for m in client.sscan_iter(key) if pattern.search(m)]
            removed += client.srem(key, *members) if members else 0
        elif kind == b"zset":
            members = [m for m, _ in client.zscan_iter(key) if pattern.search(m)]
            removed += client.zrem(key, *members) if members else 0
    return removed


STEP_WORK: dict[str, Callable[[TenantClosure], dict[str, int]]] = {
    "files": erase_files,
    "warehouse": erase_warehouse,
    "keys": erase_keys,
    "schema": erase_schema,
    "redis": erase_redis,
}
assert tuple(STEP_WORK) == STEPS  # noqa: S101  (one order, declared with the model)


def run(closure: TenantClosure, *, actor: str, progress: Progress = silent) -> TenantClosure:
    """Runs the steps not done yet, recording each as it completes; then marks the closure
    erased and forgets the schema's name. Safe to run again at any point."""
    if closure.erased_at is not None:
        progress(f"{closure.slug}: erased already at {closure.erased_at:%Y-%m-%d %H:%M:%S} UTC")
        return closure
    if closure.erase_started_at is None:
        closure.erase_started_at = timezone.now()
        closure.erased_by = actor[:254]
        closure.save(update_fields=["erase_started_at", "erased_by"])
    begin(closure, actor=actor)
    pending = closure.pending_steps
    for step in STEPS:
        number = f"[{STEPS.index(step) + 1}/{len(STEPS)}]"
        if step not in pending:
            progress(f"{number} {step}: done before")
            continue
        started = time.perf_counter()
        counts: dict[str, Any] = STEP_WORK[step](closure)
        seconds = round(time.perf_counter() - started, 3)
        closure.steps = {
            **closure.steps,
            step: {"at": timezone.now().isoformat(), "seconds": seconds, **counts},
        }
        closure.save(update_fields=["steps"])
        shown = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in counts.items())
        progress(f"{number} {step}: {shown} ({seconds:.2f} s)")
    closure.erased_at = timezone.now()
    closure.schema_name = ""
    closure.save(update_fields=["erased_at", "schema_name"])
    logger.info("tenant erased closure=%s tenant_id=%s", closure.pk, closure.tenant_id)
    return closure
