"""The language of a signed-in staff member's pages: their own choice (`User.language`).

English keeps the project's locale (en-IN: its date and lakh/crore money formats); another
choice turns on that language's catalogue and formats for the request. Pages that speak only
English are unchanged, whatever the choice. The API and anonymous requests stay in en-IN,
except the signed-out pages (sign-in, password reset, sign-up), which speak the visitor's
language (`in_visitors_language`): the choice they made on the page (a cookie), else what
their browser asks for first.
"""

import contextlib
import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation.trans_real import parse_accept_lang_header
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.clinic.commands import staff_language_set
from apps.clinic.models import STAFF_LANGUAGES
from apps.clinic.scoping import staff_of
from apps.core.errors import InvalidInput


def page_language(choice: str) -> str:
    """The language code pages and emails use for a staff choice (`User.language`)."""
    return settings.LANGUAGE_CODE if choice == "en" else choice


def staff_choice(language: str | None = None) -> str:
    """The staff choice matching a page language (the active one by default): a signed-out
    page read in Hindi signs its owner up with a Hindi console."""
    code = (language or translation.get_language() or "").split("-")[0]
    return code if code in dict(STAFF_LANGUAGES) else "en"


class StaffLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        chosen = getattr(user, "language", "en") if user is not None else "en"
        language = page_language(chosen)
        request.LANGUAGE_CODE = language
        if language == translation.get_language():
            # Already the request's language (the API's and most pages' en-IN): switching to
            # it and back is work with no effect.
            return self.get_response(request)
        with translation.override(language):
            return self.get_response(request)


@login_required
@require_POST
def language_choose(request: HttpRequest) -> HttpResponse:
    """Saves the signed-in member's language and goes back to the page they were on."""
    with contextlib.suppress(InvalidInput):  # an unknown choice: the page keeps its language
        staff_language_set(actor=staff_of(request), language=request.POST.get("language", ""))
    return redirect(_back(request))


def _back(request: HttpRequest) -> str:
    """The page the choice was made on (`next`), when it is on this site; else the start."""
    back = request.POST.get("next", "")
    return back if url_has_allowed_host_and_scheme(back, {request.get_host()}) else "/"


# The languages a signed-out visitor may read the signed-out pages in: the console's.
VISITOR_LANGUAGES = frozenset(dict(STAFF_LANGUAGES))
# How long the visitor's choice is remembered: a year, as Django's own language cookie.
VISITOR_COOKIE_SECONDS = 365 * 24 * 3600


def visitor_language(request: HttpRequest) -> str:
    """ "en" or "hi" for a signed-out visitor: the choice remembered in the language cookie,
    else the first language of `Accept-Language` that the console speaks (by its primary
    subtag, so "hi-IN" is Hindi), else English."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    if chosen in VISITOR_LANGUAGES:
        return chosen
    for tag, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        primary = tag.split("-")[0].lower()
        if primary in VISITOR_LANGUAGES:
            return primary
    return "en"


def in_visitors_language(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """A signed-out page in the visitor's language (`visitor_language`); a signed-in member's
    own choice (`StaffLanguageMiddleware`) stays as it is. The page is rendered here, so its
    lazy texts (form labels, errors) are put in that language, and so is the e-mail a
    password reset queues."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return view(request, *args, **kwargs)
        chosen = visitor_language(request)
        language = settings.LANGUAGE_CODE if chosen == "en" else chosen
        request.LANGUAGE_CODE = language
        with translation.override(language):
            response = view(request, *args, **kwargs)
            if not getattr(response, "is_rendered", True):
                response.render()  # type: ignore[attr-defined]
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", language)
        return response

    return wrapped


@csrf_exempt
@require_POST
def visitor_language_choose(request: HttpRequest) -> HttpResponse:
    """The "English | हिन्दी" choice of the signed-out pages: remembered in Django's language
    cookie, then back to the page. An unknown choice changes nothing.

    Without a CSRF token: all another site could make a browser do here is show the signed-out
    pages in the other language, and a token in the form would make each page's HTML unique
    (the password-reset answers must read the same whoever's address was given)."""
    response = redirect(_back(request))
    language = request.POST.get("language", "")
    if language in VISITOR_LANGUAGES:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=VISITOR_COOKIE_SECONDS,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE or "Lax",
        )
    return response
