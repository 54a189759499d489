"""Staff sign-in with lock-out: too many failures for one account, or from one address,
lock further attempts for a while. Used by the web login and the token API alike."""

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.http import HttpRequest

from apps.clinic.models import User


class LockedOut(Exception):
    def __init__(self, seconds: int) -> None:
        super().__init__(
            f"Too many failed sign-ins. Try again in {max(1, seconds // 60)} minute(s)."
        )
        self.seconds = seconds


def _keys(request: HttpRequest, username: str) -> list[str]:
    # The cache key function adds the tenant's schema, so counters never cross tenants.
    return [
        f"signin-failures:user:{username.strip().lower()}",
        f"signin-failures:ip:{request.META.get('REMOTE_ADDR', '')}",
    ]


def _locked_for(keys: list[str]) -> int:
    for key in keys:
        if (cache.get(key) or 0) >= settings.MYMEDIC_LOGIN_FAILURE_LIMIT:
            remaining = getattr(cache, "ttl", None)  # django-redis knows; others say the most
            return int((remaining and remaining(key)) or settings.MYMEDIC_LOGIN_LOCKOUT_SECONDS)
    return 0


def sign_in(request: HttpRequest, username: str, password: str) -> User | None:
    """The user for these credentials, None when they are wrong; LockedOut when locked."""
    keys = _keys(request, username)
    if seconds := _locked_for(keys):
        raise LockedOut(seconds)
    user = authenticate(request, username=username.strip(), password=password)
    if user is None:
        for key in keys:
            if cache.add(key, 1, timeout=settings.MYMEDIC_LOGIN_LOCKOUT_SECONDS) is False:
                cache.incr(key)
        return None
    cache.delete(keys[0])
    return user if isinstance(user, User) else None


# Password-reset emails per address and per email within the window: enough for a typo or
# two, too few to flood someone's inbox. Beyond it the page answers the same, sends nothing.
RESET_EMAILS_PER_WINDOW = 5
RESET_WINDOW_SECONDS = 3600


def reset_email_allowed(request: HttpRequest, email: str) -> bool:
    allowed = True
    for key in (f"password-reset:email:{email.strip().lower()}",
                f"password-reset:ip:{request.META.get('REMOTE_ADDR', '')}"):  # fmt: skip
        if cache.add(key, 1, timeout=RESET_WINDOW_SECONDS):
            continue
        if cache.incr(key) > RESET_EMAILS_PER_WINDOW:
            allowed = False
    return allowed


def forget_failures(username: str) -> None:
    """A password set through an emailed link proves the mailbox: lift the account's lock."""
    cache.delete(f"signin-failures:user:{username.strip().lower()}")
