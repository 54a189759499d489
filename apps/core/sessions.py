"""Staff web sessions: read from Redis, written to PostgreSQL only when they change, and
signed out after `SESSION_COOKIE_AGE` without a request.

`SESSION_ENGINE = "apps.core.sessions"`. Django's `cached_db` store keeps each session in
PostgreSQL (the record that survives Redis) and a copy in the cache, so a console page reads
its session without a query. On top of it:

- **Confirmations stay out of Redis.** The console's confirmations name patients and live in
  the session (`MESSAGE_STORAGE`); a session holding some is kept in PostgreSQL only, its
  cached copy dropped, until they have been shown.
- **Redis may be away.** Reads then come from PostgreSQL, writes go there, and a copy that
  cannot be stored or dropped is only logged. A session ended while Redis was unreachable
  could be honoured again from a copy kept before the outage, so no copy is kept longer than
  `CACHED_SECONDS`.
- **Idle time is counted in the session**, not by writing it on every request
  (`SESSION_SAVE_EVERY_REQUEST`, a PostgreSQL write per page): `IdleSessionMiddleware` keeps
  the time of the last refresh in the session, ends a session idle longer than
  `SESSION_COOKIE_AGE` before its request is served, and refreshes (saves, which pushes the
  stored expiry further out) at most every `REFRESH_EVERY_SECONDS`. The idle limit is
  therefore exact to within that minute, whatever the stores' own clocks say.

Logging out deletes the session from both stores: every process refuses the cookie at once.
A password change or a deactivation ends the member's sessions through the user check
(`apps.clinic.signin.LockoutBackend.get_user`), within a second in every process.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.signals import user_logged_in
from django.contrib.messages.storage.session import SessionStorage
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore
from django.contrib.sessions.backends.db import SessionStore as DBStore
from django.core.cache.backends.base import BaseCache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from apps.core.consoleonly import token_api_request
from apps.core.counters import UNREACHABLE

logger = logging.getLogger(__name__)

# The longest a session's copy lives in Redis (see above); a session read after that is
# read from PostgreSQL once and cached again.
CACHED_SECONDS = 300
# How often a session in use is saved to push its expiry further out.
REFRESH_EVERY_SECONDS = 60
# The session key that holds when the session was last refreshed (seconds since the epoch).
REFRESHED_AT = "_refreshed_at"


def _holds_confirmations(data: dict[str, Any]) -> bool:
    return SessionStorage.session_key in data


class SessionStore(CachedDBStore):
    # Set by Django's stores; not in their type stubs.
    _cache: BaseCache
    _session: dict[str, Any]

    def _cache_seconds(self, expiry_age: int) -> int:
        return max(0, min(expiry_age, CACHED_SECONDS))

    def _keep(self, data: dict[str, Any], expiry_age: int) -> None:
        try:
            if _holds_confirmations(data):
                self._cache.delete(self.cache_key)
            else:
                self._cache.set(self.cache_key, data, self._cache_seconds(expiry_age))
        except UNREACHABLE as exc:
            logger.warning("session cache unreachable (%s); not kept", type(exc).__name__)

    def load(self) -> dict[str, Any]:
        try:
            data = self._cache.get(self.cache_key)
        except UNREACHABLE as exc:
            logger.warning("session cache unreachable (%s); reading PostgreSQL", type(exc).__name__)
            data = None
        if data is not None:
            return dict(data)
        stored = self._get_session_from_db()  # type: ignore[attr-defined]
        if not stored:
            return {}
        decoded: dict[str, Any] = self.decode(stored.session_data)
        self._keep(decoded, self.get_expiry_age(expiry=stored.expire_date))
        return decoded

    def exists(self, session_key: str | None) -> bool:
        if not session_key:
            return False
        try:
            if self.cache_key_prefix + session_key in self._cache:
                return True
        except UNREACHABLE:
            pass
        return DBStore.exists(self, session_key)

    def save(self, must_create: bool = False) -> None:
        DBStore.save(self, must_create)
        self._keep(self._session, self.get_expiry_age())

    def delete(self, session_key: str | None = None) -> None:
        DBStore.delete(self, session_key)
        key = session_key or self.session_key
        if key is None:
            return
        try:
            self._cache.delete(self.cache_key_prefix + key)
        except UNREACHABLE as exc:
            logger.warning(
                "session cache unreachable (%s); a copy may live %d s",
                type(exc).__name__,
                CACHED_SECONDS,
            )


@receiver(user_logged_in, dispatch_uid="mymedic-session-refreshed-at-sign-in")
def refreshed_at_sign_in(sender: object, request: HttpRequest, **kwargs: object) -> None:
    """A new sign-in's session counts its idle time from the sign-in."""
    session = getattr(request, "session", None)
    if session is not None:
        session[REFRESHED_AT] = time.time()


class IdleSessionMiddleware:
    """Ends sessions idle past `SESSION_COOKIE_AGE` and refreshes the ones in use at most once
    every `REFRESH_EVERY_SECONDS` (right below `SessionMiddleware`, which saves what changed)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if token_api_request(request):  # no session was read (apps/core/consoleonly.py)
            return self.get_response(request)
        session = request.session
        if session.session_key is not None:
            refreshed = session.get(REFRESHED_AT)
            if refreshed is not None and time.time() - refreshed > settings.SESSION_COOKIE_AGE:
                session.flush()
        response = self.get_response(request)
        session = request.session  # a sign-in or sign-out may have replaced it
        if session.session_key is not None and session.get(SESSION_KEY) is not None:
            now = time.time()
            refreshed = session.get(REFRESHED_AT)
            if refreshed is None or now - refreshed >= REFRESH_EVERY_SECONDS:
                session[REFRESHED_AT] = now
        return response
