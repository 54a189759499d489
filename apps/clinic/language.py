"""The language of a signed-in staff member's pages: their own choice (`User.language`).

English keeps the project's locale (en-IN: its date and lakh/crore money formats); another
choice turns on that language's catalogue and formats for the request. Pages that speak only
English are unchanged, whatever the choice. Anonymous pages and the API stay in en-IN.
"""

import contextlib
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from apps.clinic.commands import staff_language_set
from apps.clinic.scoping import staff_of
from apps.core.errors import InvalidInput


class StaffLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        chosen = getattr(user, "language", "en") if user is not None else "en"
        language = settings.LANGUAGE_CODE if chosen == "en" else chosen
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
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = "/"
    return redirect(back)
