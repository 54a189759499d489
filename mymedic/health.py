"""Liveness of the parts MyMedic cannot work without: PostgreSQL and Redis."""

from functools import lru_cache

import redis
from django.conf import settings
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, JsonResponse


def database_status(db: BaseDatabaseWrapper = connection) -> str:
    try:
        with db.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001  (any failure means "not ok"; the class names it)
        return f"error: {type(exc).__name__}"
    return "ok"


@lru_cache(maxsize=4)
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def redis_status(url: str | None = None) -> str:
    try:
        _redis_client(url or settings.REDIS_URL).ping()
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"
    return "ok"


def healthz(request: HttpRequest) -> JsonResponse:
    parts = {"database": database_status(), "redis": redis_status()}
    healthy = all(state == "ok" for state in parts.values())
    body = {"status": "ok" if healthy else "error", **parts}
    return JsonResponse(body, status=200 if healthy else 503)
