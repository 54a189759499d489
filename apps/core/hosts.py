"""Links to another host of the deployment (the public site, a tenant), with the scheme and
port the caller used, for redirects and emails."""

from django.http import HttpRequest
from django.http.request import split_domain_port


def host_url(request: HttpRequest, host: str) -> str:
    """e.g. `http://acme.localhost:8000`; the port only when it is not the scheme's own. The
    port is the one in the Host the caller sent: behind a proxy or the edge, the server's own
    port is not the caller's."""
    _, port = split_domain_port(request.get_host())
    url = f"{request.scheme}://{host}"
    if port and port not in ("80", "443"):
        url += f":{port}"
    return url
