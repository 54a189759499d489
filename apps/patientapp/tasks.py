"""Sign-in codes leave from a task, so the code request's answer is the same work and the
same 202 whether or not the phone is a patient's, and whether or not the SMS provider is up.

The phone number travels through the broker sealed with the tenant's key, never in clear.
"""

import base64
import logging
from functools import partial

from celery import shared_task
from django_tenants.utils import schema_context

from apps.core import crypto
from apps.core.db import connection
from apps.core.keys import active_tenant_key, tenant_key
from apps.core.wakeups import after_commit
from apps.notifications.backends import DeliveryError
from apps.patientapp import auth

logger = logging.getLogger(__name__)


def _context() -> str:
    return f"sign-in-code:{connection.schema_name}"


def _queue_key(key: bytes) -> bytes:
    return crypto.derive(key, "sign-in-code:queue")


def queue_code_request(normalized_phone: str) -> str:
    """Asks for a code for this phone once the request commits; the caller learns nothing.
    Returns what the task is given (the sealed phone)."""
    version, key = active_tenant_key()
    sealed = crypto.seal(_queue_key(key), normalized_phone.encode(), _context())
    token = f"{version}.{base64.urlsafe_b64encode(sealed).decode()}"
    # The schema is named now: the task must run in this tenant, whatever runs the callback.
    after_commit(partial(_send_in, connection.schema_name, token), what="sign-in code")
    return token


def _send_in(schema: str, token: str) -> None:
    with schema_context(schema):
        send_sign_in_code.delay(token)


@shared_task(
    acks_late=True, autoretry_for=(DeliveryError,), retry_backoff=5, max_retries=3,
)  # fmt: skip
def send_sign_in_code(sealed_phone: str) -> None:
    """Sends a fresh code when the phone is a patient's (tenant-schemas-celery sets the
    schema); a provider failure retries with a new code, which replaces the earlier one."""
    version, sealed = sealed_phone.split(".", 1)
    key = _queue_key(tenant_key(int(version)))
    phone = crypto.unseal(key, base64.urlsafe_b64decode(sealed), _context()).decode()
    issued = auth.request_code(phone)
    if issued is None:
        return
    try:
        auth.send_code(phone, *issued)
    except DeliveryError as exc:
        if not exc.permanent:
            raise  # retried, with a new code
        logger.warning("Sign-in code not sent: %s", exc)
