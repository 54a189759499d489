"""Commands of exports: an owner asks for the tenant's record; a worker builds it."""

import hashlib
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.trail import record
from apps.core import crypto, keys
from apps.core.db import connection
from apps.core.errors import InvalidInput
from apps.core.replica import reading_from_replica
from apps.core.wakeups import after_commit
from apps.exports import archive
from apps.exports.models import Export
from apps.exports.storage import export_path
from apps.tenants.models import Tenant

MIN_PASSPHRASE = 12
# The passphrase travels to the worker sealed with the tenant's key (never in clear in the
# broker), and is not kept once the archive is made.
PASSPHRASE_CONTEXT = "export-passphrase"  # noqa: S105  (a label, not a secret)


def passphrase_problem(passphrase: str) -> str | None:
    if len(passphrase) < MIN_PASSPHRASE:
        return f"Use a passphrase of at least {MIN_PASSPHRASE} characters."
    return None


def export_request(*, actor: Any, passphrase: str) -> Export:
    """Queues the tenant's export, encrypted with `passphrase` (an owner's)."""
    if problem := passphrase_problem(passphrase):
        raise InvalidInput(errors={"passphrase": [problem]})
    with transaction.atomic():
        export = Export.objects.create(requested_by=actor)
        record("export.requested", actor=actor, target=f"export:{export.pk}")
    version, key = keys.active_tenant_key()
    sealed = crypto.seal(key, passphrase.encode(), f"{PASSPHRASE_CONTEXT}:{export.pk}").hex()

    def queue() -> None:
        from apps.exports.tasks import build_export

        build_export.delay(export.pk, version, sealed)

    after_commit(queue, what="export build")
    return export


def export_build(
    *, actor: None, export_id: int, key_version: int, sealed_passphrase: str
) -> Export:
    """Builds the archive of a pending export (a worker's part); a failure is recorded on the
    export, not raised again."""
    export = Export.objects.get(pk=export_id)
    if export.status != Export.Status.PENDING:
        return export
    passphrase = crypto.unseal(
        keys.tenant_key(key_version),
        bytes.fromhex(sealed_passphrase),
        f"{PASSPHRASE_CONTEXT}:{export.pk}",
    ).decode()
    try:
        tenant = Tenant.objects.get(schema_name=connection.schema_name)
        with reading_from_replica():
            built = archive.build(tenant.slug, passphrase)
        path = export_path(export.pk)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_suffix(".partial")
        partial.write_bytes(built.blob)
        partial.chmod(0o600)
        partial.replace(path)
    except Exception as exc:  # noqa: BLE001  (recorded for the owner; the worker goes on)
        export.status, export.error = Export.Status.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
    else:
        export.status = Export.Status.READY
        export.size = len(built.blob)
        export.sha256 = hashlib.sha256(built.blob).hexdigest()
        export.counts = built.counts
    export.finished = timezone.now()
    export.save()
    return export


def export_downloaded(*, actor: Any, export: Export) -> None:
    record("export.downloaded", actor=actor, target=f"export:{export.pk}")
