"""Lifecycle commands: closing a tenant, erasing it once its grace has passed, measuring its
storage. Called alike by the operator admin, `manage.py tenant_close` and beat's tasks."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from apps.audit.trail import record
from apps.core.db import connection
from apps.core.errors import Conflict, NotFound
from apps.lifecycle import erasure
from apps.lifecycle.models import TenantClosure
from apps.lifecycle.selectors import open_closure
from apps.plans.commands import subscription_change_status
from apps.plans.models import Subscription
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

Progress = erasure.Progress


def tenant_close(
    *,
    actor: str,
    slug: str,
    reason: str = "",
    erase_now: bool = False,
    now: datetime | None = None,
    progress: Progress = erasure.silent,
) -> TenantClosure:
    """Closes the tenant: its subscription becomes closed (read-only, for good), a closure
    record notes who and when, and the tenant's erasure falls due after
    `MYMEDIC_CLOSED_TENANT_ERASE_DAYS` (its owner may still sign in, read and export until
    then). With `erase_now` the erasure runs at once. Closing a closed tenant again changes
    nothing (with `erase_now` it finishes the erasure, also one a crash interrupted)."""
    now = now or timezone.now()
    with schema_context(get_public_schema_name()):
        closure = open_closure(slug)
        if closure is None:
            closure = _close(actor=actor, slug=slug, reason=reason, now=now)
            progress(f"{slug}: closed; erasure due after {closure.erase_after:%Y-%m-%d %H:%M} UTC")
        else:
            progress(f"{slug}: closed already at {closure.closed_at:%Y-%m-%d %H:%M} UTC")
        if erase_now:
            closure = tenant_erase(actor=actor, closure=closure, progress=progress)
    return closure


def _close(*, actor: str, slug: str, reason: str, now: datetime) -> TenantClosure:
    tenant = Tenant.objects.filter(slug=slug).exclude(schema_name=get_public_schema_name()).first()
    if tenant is None:
        raise NotFound(f"No tenant {slug}.")
    erase_after = now + timedelta(days=settings.MYMEDIC_CLOSED_TENANT_ERASE_DAYS)
    with transaction.atomic():
        if Subscription.objects.filter(tenant=tenant).exists():
            subscription_change_status(
                actor=actor, tenant=tenant, to=Subscription.Status.CLOSED,
                reason=reason or "closed by the operator", now=now,
            )  # fmt: skip
        closure = TenantClosure.objects.create(
            slug=tenant.slug,
            tenant_id=tenant.pk,
            schema_name=tenant.schema_name,
            closed_at=now,
            closed_by=actor[:254],
            reason=reason[:200],
            erase_after=erase_after,
        )
        with schema_context(tenant.schema_name):
            record(
                "tenant.closed",
                actor_role="platform",
                target=f"tenant:{tenant.pk}",
                detail={"by": actor[:254], "erase_after": erase_after.isoformat()},
            )
    logger.info("tenant closed tenant_id=%s closure=%s", tenant.pk, closure.pk)
    return closure


# One erasure of a tenant at a time (a session advisory lock on its closure, which spans
# the steps' own transactions); a second caller is told so and may run again later.
ERASE_LOCK_CLASS = 0x4552  # "ER"


def tenant_erase(
    *, actor: str, closure: TenantClosure, progress: Progress = erasure.silent
) -> TenantClosure:
    """Erases a closed tenant (`apps.lifecycle.erasure`), or finishes an interrupted erasure."""
    with schema_context(get_public_schema_name()):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ERASE_LOCK_CLASS, closure.pk])
            (locked,) = cursor.fetchone()
        if not locked:
            raise Conflict(f"{closure.slug} is being erased by another process.")
        try:
            closure.refresh_from_db()
            return erasure.run(closure, actor=actor, progress=progress)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [ERASE_LOCK_CLASS, closure.pk])


def closures_due(now: datetime, limit: int = 100) -> list[int]:
    """Ids of the closures whose grace has ended and that are not erased yet, earliest first
    (the `tenant_closure_erase_due` index: only those, however many tenants there are)."""
    return list(
        TenantClosure.objects.filter(erased_at__isnull=True, erase_after__lte=now)
        .order_by("erase_after")
        .values_list("pk", flat=True)[:limit]
    )


def closure_of(closure_id: int) -> TenantClosure:
    closure = TenantClosure.objects.filter(pk=closure_id).first()
    if closure is None:
        raise NotFound(f"No closure {closure_id}.")
    return closure
