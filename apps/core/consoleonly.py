"""The console's middleware (its session, the signed-in user, its confirmations), passed by for
a call of the API that names its caller by token.

An `/api/` request with `Authorization: Token …` is authenticated by its token and nothing
else: the token authenticator comes first in every API view that authenticates at all
(`REST_FRAMEWORK`), answers a malformed or unknown token with 401 without asking the next
one, and so never lets a session cookie on the same request speak. Such a request therefore
never needs the session read, the user it names, or the messages kept in it; before, every
token read paid for building all three (about a tenth of a cached read's CPU). Everything
else (console pages, the API signed in by cookie, calls without a token) goes through them
exactly as before. The security headers come from other middleware and are unchanged.
"""

from collections.abc import Callable

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse

API_PREFIX = "/api/"
# DRF compares the keyword case-insensitively, as here.
TOKEN_SCHEME = "token"  # noqa: S105  (a scheme name, not a secret)


def token_api_request(request: HttpRequest) -> bool:
    """Whether this is an API call that names its caller by `Authorization: Token …`."""
    if not request.path_info.startswith(API_PREFIX):
        return False
    scheme = str(request.META.get("HTTP_AUTHORIZATION", "")).split(None, 1)
    return bool(scheme) and scheme[0].lower() == TOKEN_SCHEME


class PassedByForTokenCalls:
    """Mixed in before a middleware class: a token API call goes straight on."""

    get_response: Callable[[HttpRequest], HttpResponse]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if token_api_request(request):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class ConsoleSessionMiddleware(PassedByForTokenCalls, SessionMiddleware):  # type: ignore[misc]
    pass


class ConsoleAuthenticationMiddleware(PassedByForTokenCalls, AuthenticationMiddleware):  # type: ignore[misc]
    pass


class ConsoleMessageMiddleware(PassedByForTokenCalls, MessageMiddleware):  # type: ignore[misc]
    pass
