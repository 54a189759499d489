"""Staff API tokens: `Authorization: Token <key>`, stored as a digest, with sliding and
absolute expiry. Issued and revoked by the commands in apps/clinic/commands.py."""

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from apps.clinic.models import StaffToken, User
from apps.core.db import connection
from apps.core.shortlived import ShortLived, copy_of
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


# Token → staff member (with their role and branches), kept at most a second per process
# (apps/core/shortlived.py): a revoked token, a deactivated member or a changed role or
# branch is refused or seen by every process within that second. The kept token is handed
# out itself (a request only reads it: `request.auth`); the user, whom commands may change
# (`staff_change`, a language choice), is each request's own copy.
_principals: ShortLived[StaffToken] = ShortLived("staff tokens")


def _token_with_principal(digest: str) -> StaffToken | None:
    return (
        StaffToken.objects.select_related("user")
        .prefetch_related("user__branches")
        .filter(key_hash=digest)
        .first()
    )


class StaffTokenAuthentication(DigestTokenAuthentication):
    """`Authorization: Token <key>` with a live staff key; anything else is 401."""

    def authenticate_digest(self, digest: str) -> tuple[User, StaffToken]:
        now = timezone.now()
        key = (connection.schema_name, digest)
        token = _principals.shared(key, lambda: _token_with_principal(digest))
        if (
            token is None
            or token.expires <= now
            or token.last_used <= now - idle_limit()
            or not token.user.is_active
        ):
            raise AuthenticationFailed("Invalid or expired token.")
        if now - token.last_used >= TOUCH_EVERY:
            StaffToken.objects.filter(pk=token.pk).update(last_used=now)
            _principals.discard(key)
        return copy_of(token.user), token
