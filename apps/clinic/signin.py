"""The one sign-in lock-out, for every door: the web login, the admin login, the token API
(all through `LockoutBackend`, i.e. through `authenticate()`) and the patient app's code
sign-in (through `guard` / `failed` / `succeeded`).

- **Per account, a lock.** MYMEDIC_LOGIN_FAILURE_LIMIT wrong passwords for one existing
  account lock that account for MYMEDIC_LOGIN_LOCKOUT_SECONDS, from every address.
- **Per address, a throttle.** A whole clinic shares one public address (NAT), so an address
  is only slowed down after MYMEDIC_LOGIN_ADDRESS_LIMIT failures in the same window.
- **Unknown usernames never lock real ones.** A name's lock is that exact (normalized)
  name's: guessing other names locks only them, and the address limit is ten times higher.
The address is `client_address` (X-Forwarded-For only through our own proxies). Counters live
in the cache, whose key function adds the tenant's schema, so they never cross tenants; while
Redis is unreachable each web process counts in its own memory (`apps.core.counters`), so
guessing stays bounded during an outage.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_noop

from apps.clinic.models import User
from apps.core.clientip import client_address
from apps.core.counters import counting_cache, take
from apps.core.db import connection
from apps.core.shortlived import ShortLived


class LockedOut(Exception):
    WORDING = gettext_noop("Too many failed sign-ins. Try again in %(minutes)s minute(s).")

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self.minutes = max(1, (seconds + 59) // 60)
        super().__init__(self.WORDING % {"minutes": self.minutes})

    def translated(self) -> str:
        """The refusal in the active language (the sign-in page's)."""
        return gettext(self.WORDING) % {"minutes": self.minutes}


def _account_key(account: str) -> str:
    return f"signin-failures:account:{account}"


def _address_key(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return f"signin-failures:ip:{client_address(request)}"


def _remaining(key: str) -> int:
    return counting_cache.ttl(key) or settings.MYMEDIC_LOGIN_LOCKOUT_SECONDS


def locked_for(request: HttpRequest | None, account: str | None) -> int:
    """Seconds until this account (or address) may try again; 0 when it may now."""
    if account is not None:
        key = _account_key(account)
        if (counting_cache.get(key) or 0) >= settings.MYMEDIC_LOGIN_FAILURE_LIMIT:
            return _remaining(key)
    address = _address_key(request)
    if (
        address is not None
        and (counting_cache.get(address) or 0) >= settings.MYMEDIC_LOGIN_ADDRESS_LIMIT
    ):
        return _remaining(address)
    return 0


def guard(request: HttpRequest | None, account: str | None) -> None:
    if seconds := locked_for(request, account):
        raise LockedOut(seconds)


def _count(key: str) -> None:
    take(key, settings.MYMEDIC_LOGIN_LOCKOUT_SECONDS)


def failed(request: HttpRequest | None, account: str | None) -> None:
    """A wrong secret: `account` is None when the name given is no account."""
    if account is not None:
        _count(_account_key(account))
    if (address := _address_key(request)) is not None:
        _count(address)


def succeeded(account: str) -> None:
    counting_cache.delete(_account_key(account))


def staff_account(username: str | None) -> str | None:
    """The lock-out's name for the account a username signs in to. Any name gets one, known or
    not, so that locking never tells an attacker which emails are accounts; an unknown name's
    lock guards nothing."""
    if not username or not username.strip():
        return None
    return f"user:{username.strip().lower()}"


# A session's staff member (with their branches), kept at most a second per process
# (apps/core/shortlived.py), as a token's is (apps/clinic/tokens.py): a deactivation, a
# changed password (which ends every other session of the member), role or branch is seen by
# every process within that second, by this one at once.
_members: ShortLived[User] = ShortLived("session members")


def _member(user_id: Any) -> User | None:
    return User.objects.prefetch_related("branches").filter(pk=user_id).first()


class LockoutBackend(ModelBackend):
    """Django's password check behind the lock-out. Every caller of `authenticate()` (the
    admin's login included) passes here; a locked attempt never reaches the password hash.
    A signed-in session's member is looked up here too (`get_user`)."""

    def get_user(self, user_id: Any) -> User | None:
        user = _members.get((connection.schema_name, user_id), lambda: _member(user_id))
        return user if user is not None and self.user_can_authenticate(user) else None

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        account = staff_account(username)
        if locked_for(request, account):
            raise PermissionDenied  # authenticate() stops here and reports a failed sign-in
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            failed(request, account)
        elif account is not None:
            succeeded(account)
        return user


def sign_in(request: HttpRequest, username: str, password: str) -> User | None:
    """The user for these credentials, None when they are wrong; LockedOut when locked."""
    guard(request, staff_account(username))
    user = authenticate(request, username=username.strip(), password=password)
    return user if isinstance(user, User) else None


# Password-reset emails per address and per email within the window: enough for a typo or
# two, too few to flood someone's inbox. Beyond it the page answers the same, sends nothing.
RESET_EMAILS_PER_WINDOW = 5
RESET_WINDOW_SECONDS = 3600


def reset_email_allowed(request: HttpRequest, email: str) -> bool:
    allowed = True
    for key in (
        f"password-reset:email:{email.strip().lower()}",
        f"password-reset:ip:{request.META.get('REMOTE_ADDR', '')}",
    ):
        if take(key, RESET_WINDOW_SECONDS) > RESET_EMAILS_PER_WINDOW:
            allowed = False
    return allowed


def forget_failures(username: str) -> None:
    """A password set through an emailed link proves the mailbox: lift the account's lock."""
    if (account := staff_account(username)) is not None:
        succeeded(account)
