"""`Idempotency-Key` for every POST of the API, built once as middleware.

The key is claimed by inserting its row in the same transaction as the command it guards:
a retry with the same key waits for the first attempt to finish and then gets its stored
response; a failed (5xx) attempt rolls back with its claim, so the key may be tried again.
Responses that carry credentials (sign-in tokens) are not stored: a replay of one is a 409.
"""

import hashlib
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REPLAY_HEADER = "Idempotent-Replayed"


def _scope(request: HttpRequest) -> str:
    credentials = request.headers.get("Authorization") or request.COOKIES.get("sessionid") or ""
    return hashlib.sha256(credentials.encode()).hexdigest()


def _request_hash(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode() if request.method else b"")
    digest.update(b"\0" + request.get_full_path().encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def holds_credentials(response: HttpResponse) -> bool:
    """Token responses say `Cache-Control: no-store` (RFC 6749 5.1): never keep their body."""
    return "no-store" in response.get("Cache-Control", "")


def _replay(record: IdempotencyRecord) -> HttpResponse:
    if record.body is None and record.status_code is not None and record.status_code < 300:
        return JsonResponse(
            {"detail": "That response held credentials and was not kept; sign in again."},
            status=409,
        )
    response = HttpResponse(
        bytes(record.body or b""), status=record.status_code, content_type=record.content_type
    )
    response[REPLAY_HEADER] = "true"
    return response


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None or not request.path.startswith("/api/"):
            return self.get_response(request)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            return JsonResponse(
                {"detail": f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters."}, status=400
            )
        scope, request_hash = _scope(request), _request_hash(request)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        scope=scope, key=key, request_hash=request_hash
                    )
            except IntegrityError:
                # Another attempt with this key committed first (we waited for it if needed).
                earlier = IdempotencyRecord.objects.get(scope=scope, key=key)
                if earlier.request_hash != request_hash:
                    return JsonResponse(
                        {"detail": f"This {HEADER} was used with a different request."},
                        status=422,
                    )
                return _replay(earlier)
            response = self.get_response(request)
            if response.status_code >= 500 or getattr(response, "streaming", False):
                transaction.set_rollback(True)
                return response
            if hasattr(response, "render"):
                response.render()
            record.status_code = response.status_code
            record.content_type = response.get("Content-Type", "")
            # The key still has had its effect (no second token), but its secret is not kept.
            record.body = None if holds_credentials(response) else response.content
            record.save(update_fields=["status_code", "content_type", "body"])
        return response
