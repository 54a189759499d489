"""Staff API tokens: `Authorization: Token <key>`, stored as a digest, with sliding and
absolute expiry. Issued and revoked by the commands in apps/clinic/commands.py."""

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from apps.clinic.models import StaffToken, User
from apps.core.tokens import DigestTokenAuthentication, key_hash

# Refreshing `last_used` on every request would write on every read; a minute is precise
# enough for an idle limit counted in hours.
TOUCH_EVERY = timedelta(minutes=1)


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


class StaffTokenAuthentication(DigestTokenAuthentication):
    """`Authorization: Token <key>` with a live staff key; anything else is 401."""

    def authenticate_digest(self, digest: str) -> tuple[User, StaffToken]:
        now = timezone.now()
        token = (
            StaffToken.objects.select_related("user")
            .filter(key_hash=digest, expires__gt=now, last_used__gt=now - idle_limit())
            .first()
        )
        if token is None or not token.user.is_active:
            raise AuthenticationFailed("Invalid or expired token.")
        if now - token.last_used >= TOUCH_EVERY:
            StaffToken.objects.filter(pk=token.pk).update(last_used=now)
        return token.user, token
