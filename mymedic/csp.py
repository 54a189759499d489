"""django-csp's middleware with the policy built once per process, not twice per response.

django-csp builds the `Content-Security-Policy` header (and its report-only twin) from the
settings on every response, although nothing in MyMedic varies it: no view decorates its
policy (`csp_update`, `csp_replace`, `csp_exempt`) and no template asks for a nonce. Building
it was about a tenth of an authenticated API read's CPU. Here the two headers are built once
from `CONTENT_SECURITY_POLICY` / `CONTENT_SECURITY_POLICY_REPORT_ONLY` and again only when
those settings change (`setting_changed`, as tests do); a response that carries its own
policy parts, or a request that used its nonce, takes django-csp's own path unchanged. Every
response gets the same header as before, JSON included.
"""

from functools import cache
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.response import HttpResponseBase

POLICY_SETTINGS = ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY")

# What a view or a decorator may set on a response to change its policy (django-csp's names).
PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)

# (header, its policy, the path prefixes it skips) for the enforced and report-only policy.
Policy = tuple[str, str, tuple[str, ...]]


@cache
def policies() -> tuple[Policy, ...]:
    """The headers every ordinary response gets, built from the settings once."""
    built = []
    for header, name, report_only in (
        (HEADER, POLICY_SETTINGS[0], False),
        (HEADER_REPORT_ONLY, POLICY_SETTINGS[1], True),
    ):
        value = build_policy(report_only=report_only)
        if value:
            config: dict[str, Any] = getattr(settings, name, None) or {}
            built.append((header, value, tuple(config.get("EXCLUDE_URL_PREFIXES") or ())))
    return tuple(built)


@receiver(setting_changed, dispatch_uid="mymedic-csp-policy-rebuilt")
def policy_changed(*, setting: str, **kwargs: object) -> None:
    if setting in POLICY_SETTINGS:
        policies.cache_clear()


class CSPMiddleware(DjangoCSPMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        nonce_used = isinstance(getattr(request, "_csp_nonce", None), str)
        if nonce_used or any(hasattr(response, name) for name in PER_RESPONSE):
            return super().process_response(request, response)
        if settings.DEBUG and response.status_code in (404, 500):
            return response  # Django's debug pages, as django-csp leaves them
        for header, value, excluded in policies():
            exempt = getattr(
                response, "_csp_exempt_ro" if header == HEADER_REPORT_ONLY else "_csp_exempt", False
            )
            if (
                header not in response
                and exempt is False
                and not request.path_info.startswith(excluded)
            ):
                response[header] = value
        # As django-csp: a nonce asked for after the header is written is an error, not a
        # silently unprotected script.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response
