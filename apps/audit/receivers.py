"""What the audit trail listens to: appended events, sign-ins and failed sign-ins."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name

from apps.audit.trail import event_digest, record
from apps.core.db import connection
from apps.core.idempotency import idempotent_replayed
from apps.eventstore.models import Event, event_appended


@receiver(event_appended)
def audit_event(sender: Any, event: Event, **kwargs: Any) -> None:
    record(
        "event.appended",
        actor_id=event.metadata.get("actor_id"),
        actor_role=event.metadata.get("actor_role") or "",
        branch_id=event.metadata.get("branch_id"),
        target=f"event:{event.position}",
        detail={"type": event.type, "stream": event.stream, "digest": event_digest(event)},
    )


def in_a_tenant() -> bool:
    """Sign-ins on the public host (the platform operators' admin) have no tenant trail."""
    return connection.schema_name != get_public_schema_name()


@receiver(user_logged_in)
def audit_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if in_a_tenant():
        record("login", actor=user, target=f"user:{user.pk}")


@receiver(user_login_failed)
def audit_failed_login(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if not in_a_tenant():
        return
    # Django has already masked the password; the username is a staff email, not PHI.
    record("login.failed", detail={"username": str(credentials.get("username", ""))[:254]})


@receiver(idempotent_replayed)
def audit_replayed_read(
    sender: Any, request: HttpRequest, subjects: list[str], scope: str, **kwargs: Any
) -> None:
    """A replayed response hands a patient's data out again: a read like any other. The view
    did not run, so a token caller is named by the digest of its credentials (`scope`)."""
    user = getattr(request, "user", None)
    record(
        "patient.read",
        actor=user if getattr(user, "pk", None) else None,
        target=subjects[0] if len(subjects) == 1 else "patients",
        detail={"via": "idempotency-replay", "subjects": subjects, "scope": scope},
    )
