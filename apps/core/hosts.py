"""Links to another host of the deployment (the public site, a tenant), with the scheme and
port the caller used, for redirects and emails."""

from django.http import HttpRequest


def host_url(request: HttpRequest, host: str) -> str:
    """e.g. `http://acme.localhost:8000`; the port only when it is not the scheme's own."""
    port = request.get_port()
    url = f"{request.scheme}://{host}"
    if port not in ("80", "443"):
        url += f":{port}"
    return url
