"""Staff API tokens: `Authorization: Token <key>`, stored as a digest, with sliding and
absolute expiry. Issued and revoked by the commands in apps/clinic/commands.py."""

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from apps.clinic.models import StaffToken, User

# Refreshing `last_used` on every request would write on every read; a minute is precise
# enough for an idle limit counted in hours.
TOUCH_EVERY = timedelta(minutes=1)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def idle_limit() -> timedelta:
    return timedelta(hours=settings.MYMEDIC_TOKEN_IDLE_HOURS)


def mint(user: User, *, now: datetime | None = None) -> str:
    """Stores a new token's digest and returns its key, the only time the key exists.
    Callers: `staff_token_issue` (which audits the sign-in), tests and the bench."""
    now = now or timezone.now()
    key = secrets.token_hex(20)
    StaffToken.objects.create(
        key_hash=key_hash(key),
        user=user,
        created=now,
        last_used=now,
        expires=now + timedelta(days=settings.MYMEDIC_TOKEN_MAX_DAYS),
    )
    return key


class StaffTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>` with a live staff key; anything else is 401."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[User, StaffToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Invalid token header.")
        try:
            key = parts[1].decode()
        except UnicodeError as exc:
            raise AuthenticationFailed("Invalid token.") from exc
        now = timezone.now()
        token = (
            StaffToken.objects.select_related("user")
            .filter(key_hash=key_hash(key), expires__gt=now, last_used__gt=now - idle_limit())
            .first()
        )
        if token is None or not token.user.is_active:
            raise AuthenticationFailed("Invalid or expired token.")
        if now - token.last_used >= TOUCH_EVERY:
            StaffToken.objects.filter(pk=token.pk).update(last_used=now)
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword
