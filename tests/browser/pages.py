"""Every HTML page of a clinic's site, by URL name: who opens it and with which ids.

The accessibility sweep (`test_accessibility.py`) opens each of them in English and in Hindi;
`tenant_page_names` reads the tenant URLconf, so a page added without being listed here (or
in `NOT_SWEPT`, with the reason) fails `test_every_page_of_the_site_is_swept`.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, reverse

# Parts of the site that are no pages for staff: the API, the FHIR server, Django's admin
# (its own accessibility is Django's), and cell-to-cell paths.
NOT_PAGES_PREFIXES = ("api/", "fhir/", "admin/", "internal/")


@dataclass(frozen=True)
class Page:
    name: str
    # who opens it: "desk" (a receptionist), "owner", "doctor", "display" (a waiting-room
    # screen with its link's key) or "anyone" (signed out)
    who: str
    ids: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda seed: {})
    query: Callable[[dict[str, Any]], str] = field(default=lambda seed: "")

    def path(self, seed: dict[str, Any]) -> str:
        return reverse(self.name, urlconf="mymedic.urls_tenant", kwargs=self.ids(seed)) + (
            self.query(seed)
        )


def _branch(seed: dict[str, Any]) -> dict[str, Any]:
    return {"pk": seed["branch"]}


def _visit(seed: dict[str, Any]) -> dict[str, Any]:
    return {"pk": seed["branch"], "aid": seed["appointment"]}


PAGES = [
    Page("login", "anyone"),
    Page("password_reset", "anyone"),
    Page("password_reset_done", "anyone"),
    Page("password_reset_complete", "anyone"),
    Page("reception", "desk"),
    Page("reception-branch", "desk", _branch),
    Page("reception-doctors", "desk", _branch),
    Page("reception-patients", "desk", _branch),
    Page("reception-book", "desk", _branch, lambda seed: f"?patient={seed['patient']}"),
    Page("reception-calendar", "desk", _branch),
    Page("reception-patient", "desk", lambda seed: {"pk": seed["branch"], "pid": seed["patient"]}),
    Page("reception-visit", "desk", _visit),
    Page("reception-declare", "desk", _branch),
    Page("reception-pay", "desk", _visit),
    Page("reception-reschedule", "desk", _visit),
    Page("reception-visit-gst", "desk", _visit),
    Page("invoice-print", "desk", lambda seed: {"pk": seed["appointment"]}),
    Page("gst-document-print", "desk", lambda seed: {"pk": seed["gst_document"]}),
    Page("queue-token-slip", "desk", lambda seed: {"pk": seed["checked_in"]}),
    Page("account-password", "desk"),
    Page("queue-links", "owner", _branch),
    Page("settlements", "owner"),
    Page("account-subscription", "owner"),
    Page("setup", "owner"),
    Page("setup-branches", "owner"),
    Page("setup-branch-new", "owner"),
    Page("setup-branch", "owner", _branch),
    Page("setup-closures", "owner", _branch),
    Page("setup-doctors", "owner"),
    Page("setup-doctor-new", "owner"),
    Page("setup-doctor", "owner", lambda seed: {"pk": seed["doctor"]}),
    Page("setup-leave", "owner", lambda seed: {"pk": seed["doctor"]}),
    Page("setup-staff", "owner"),
    Page("setup-billing", "owner"),
    Page("queue-doctor", "doctor"),
    Page("queue-display", "display", _branch, lambda seed: f"?key={seed['display_key']}"),
]

# URL names of the tenant site that are not swept, and why.
NOT_SWEPT = {
    "home": "a redirect to /reception/",
    "logout": "a POST",
    "account-language": "a POST",
    "visitor-language": "a POST (the signed-out pages' language choice)",
    "reception-action": "a POST (its answer is the board)",
    "branch-events": "a Server-Sent Events stream",
    "queue-display-state": "JSON",
    "queue-display-events": "a Server-Sent Events stream",
    "queue-link-revoke": "a POST",
    "queue-next": "a POST (its answer is the doctor's queue)",
    "queue-doctor-action": "a POST (its answer is the doctor's queue)",
    "setup-verify-email": "a POST",
    "setup-closure-remove": "a POST",
    "setup-leave-remove": "a POST",
    "setup-staff-resend": "a POST",
    "settlements-resolve": "a POST from the settlements page",
    "welcome": "a one-time sign-in link (it lands on the set-up page)",
    "invitation-accept": "a one-time link of an e-mail (its form is the password form's)",
    "password_reset_confirm": "a one-time link of an e-mail (its form is the password form's)",
}


def _names(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _names(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield pattern.name, route


def tenant_page_names() -> set[str]:
    """The URL names of the tenant site outside the API, FHIR, the admin and cell paths."""
    return {
        name
        for name, route in _names(get_resolver("mymedic.urls_tenant").url_patterns)
        if not route.startswith(NOT_PAGES_PREFIXES)
    }
