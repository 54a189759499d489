"""`Idempotency-Key` for every POST of the API, built once as middleware.

The key is claimed by inserting its row in the same transaction as the command it guards:
a retry with the same key waits for the first attempt to finish and then gets its stored
response; a failed (5xx) attempt rolls back with its claim, so the key may be tried again.
Responses that carry credentials (sign-in tokens) are not stored: a replay of one is a 409.

Nothing is kept in clear: the request as an HMAC under a key derived from the tenant's key,
the response body sealed with it (AES-GCM, bound to the record's scope and key). Which
patients a response named is kept as `subjects` (asked of `MYMEDIC_IDEMPOTENCY_SUBJECTS`),
so an erasure purges them; a replay that returns a subject's data sends
`idempotent_replayed`, which the audit trail records like any other read.
"""

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string

from apps.core import crypto
from apps.core.db import connection
from apps.core.keys import active_tenant_key, tenant_key
from apps.core.models import IdempotencyRecord
from apps.core.tenancy import note_due

# Keys are honoured for a day; older records are purged (apps/core/tasks.py).
IDEMPOTENCY_WINDOW = timedelta(hours=24)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REPLAY_HEADER = "Idempotent-Replayed"


def _scope(request: HttpRequest) -> str:
    credentials = request.headers.get("Authorization") or request.COOKIES.get("sessionid") or ""
    return hashlib.sha256(credentials.encode()).hexdigest()


# Sent when a stored response is returned again: (request, subjects, scope).
idempotent_replayed = Signal()


def _store_key(version: int | None = None) -> tuple[int, bytes]:
    """(version, key) records of this schema are digested and sealed with: the tenant's own
    (the active version, or `version`), or one derived from the master key on the public
    host (onboarding, which holds no PHI)."""
    if connection.schema_name == "public":
        return 1, crypto.derive(crypto.master_key(), "idempotency:public")
    if version is None:
        return active_tenant_key()
    return version, tenant_key(version)


def _request_hash(request: HttpRequest, key: bytes) -> str:
    digest = hmac.new(crypto.derive(key, "idempotency:request"), digestmod=hashlib.sha256)
    digest.update(request.method.encode() if request.method else b"")
    digest.update(b"\0" + request.get_full_path().encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _context(record: IdempotencyRecord, schema: str | None = None) -> str:
    return f"idempotency:{schema or connection.schema_name}:{record.scope}:{record.key}"


def rebind_from_schema(old_schema: str) -> int:
    """Re-seals kept responses for the schema the tenant now lives in, after a restore moved
    it from `old_schema` (run after `keys.rebind_from_schema`). Returns how many."""
    changed = 0
    for record in IdempotencyRecord.objects.filter(body__isnull=False).order_by("id"):
        key = crypto.derive(_store_key(record.key_version)[1], "idempotency:response")
        body = crypto.unseal(key, bytes(record.body or b""), _context(record, old_schema))
        record.body = crypto.seal(key, body, _context(record))
        record.save(update_fields=["body"])
        changed += 1
    return changed


@cache
def _subjects_hook() -> Callable[[str, Any], list[str]]:
    hook: Callable[[str, Any], list[str]] = import_string(settings.MYMEDIC_IDEMPOTENCY_SUBJECTS)
    return hook


def _subjects(request: HttpRequest, response: HttpResponse) -> list[str]:
    if "json" not in response.get("Content-Type", ""):
        return []
    try:
        data = json.loads(response.content)
    except ValueError:
        return []
    return sorted(set(_subjects_hook()(request.path, data)))


def forget_subject(subject: str) -> int:
    """Purges every kept response that held `subject`'s data (e.g. on erasure)."""
    deleted, _ = IdempotencyRecord.objects.filter(subjects__contains=[subject]).delete()
    return deleted


def holds_credentials(response: HttpResponse) -> bool:
    """Token responses say `Cache-Control: no-store` (RFC 6749 5.1): never keep their body."""
    return "no-store" in response.get("Cache-Control", "")


def _replay(request: HttpRequest, record: IdempotencyRecord, key: bytes) -> HttpResponse:
    if record.body is None and record.status_code is not None and record.status_code < 300:
        return JsonResponse(
            {"detail": "That response held credentials and was not kept; sign in again."},
            status=409,
        )
    body = b""
    if record.body is not None:
        body = crypto.unseal(
            crypto.derive(key, "idempotency:response"), bytes(record.body), _context(record)
        )
    response = HttpResponse(body, status=record.status_code, content_type=record.content_type)
    response[REPLAY_HEADER] = "true"
    if record.subjects:
        idempotent_replayed.send(
            IdempotencyMiddleware, request=request, subjects=record.subjects, scope=record.scope
        )
    return response


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not request.path.startswith("/api/"):
            return self.get_response(request)
        key = request.headers.get(HEADER)
        if key is None:
            return self.get_response(request)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            return JsonResponse(
                {"detail": f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters."}, status=400
            )
        version, store_key = _store_key()
        scope, request_hash = _scope(request), _request_hash(request, store_key)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        scope=scope, key=key, request_hash=request_hash, key_version=version
                    )
                    note_due("purge-idempotency-records", record.created + IDEMPOTENCY_WINDOW)
            except IntegrityError:
                # Another attempt with this key committed first (we waited for it if needed).
                earlier = IdempotencyRecord.objects.get(scope=scope, key=key)
                if earlier.key_version != version:  # kept before a key rotation
                    version, store_key = _store_key(earlier.key_version)
                    request_hash = _request_hash(request, store_key)
                if earlier.request_hash != request_hash:
                    return JsonResponse(
                        {"detail": f"This {HEADER} was used with a different request."},
                        status=422,
                    )
                return _replay(request, earlier, store_key)
            response = self.get_response(request)
            if response.status_code >= 500 or getattr(response, "streaming", False):
                transaction.set_rollback(True)
                return response
            if hasattr(response, "render"):
                response.render()
            record.status_code = response.status_code
            record.content_type = response.get("Content-Type", "")
            # The key still has had its effect (no second token), but its secret is not kept.
            if holds_credentials(response):
                record.body = None
            else:
                record.body = crypto.seal(
                    crypto.derive(store_key, "idempotency:response"),
                    response.content,
                    _context(record),
                )
                record.subjects = _subjects(request, response)
            record.save(update_fields=["status_code", "content_type", "body", "subjects"])
        return response
