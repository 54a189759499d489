"""The one answer to "who is calling?": the client's address for every throttle, lock-out
and audit entry.

`X-Forwarded-For` is written by whoever sends the request, so it is believed only when the
connection comes from a proxy we run (MYMEDIC_TRUSTED_PROXIES, addresses or CIDRs; none by
default). Then the client is the right-most address in the header that is not one of our
proxies: every hop appends, so the entries left of it are the client's own claims.
"""

import ipaddress
from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def _is_trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _trusted(tuple(settings.MYMEDIC_TRUSTED_PROXIES)))


def client_address(request: HttpRequest) -> str:
    """The caller's address; a forwarded one only through our own proxies."""
    peer = str(request.META.get("REMOTE_ADDR") or "")
    if not _is_trusted(peer):
        return peer
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a mangled header: the nearest proxy is all we know for sure
        if not _is_trusted(hop):
            return hop
    return peer


class ClientAddressMiddleware:
    """Puts the client's address in REMOTE_ADDR and drops X-Forwarded-For, so nothing later
    (DRF's throttles read the header by themselves) can be fooled by it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.META["REMOTE_ADDR"] = client_address(request)
        request.META.pop("HTTP_X_FORWARDED_FOR", None)
        return self.get_response(request)
