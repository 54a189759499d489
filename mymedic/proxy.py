"""The reverse proxy in front of the web workers: nginx's configuration, written from settings.

nginx is what meets the internet. It reads a request's headers and body before the
application sees anything, so a client that sends slowly holds an nginx connection (cheap,
bounded by deadlines) and never a web worker; it caps bodies with the application's own
limits (`mymedic/bodylimit.py` stays as the second line), caps concurrent requests per
client address, serves `/static/` from the `collectstatic` folder, and passes the live
board's Server-Sent Events through unbuffered. The application believes its
`X-Forwarded-For` because `MYMEDIC_TRUSTED_PROXIES` names it (`apps/core/clientip.py`).

Its logs name no query string: the access log writes `$uri` (the path), never `$request`,
`$request_uri` or `$args`, and the error log (whose lines quote the whole request line)
records only `crit` and worse.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

# The access log: no $request, $request_uri or $args (query strings may carry a phone number).
LOG_FORMAT = (
    '$remote_addr [$time_iso8601] "$request_method $uri $server_protocol" $status '
    "$body_bytes_sent $request_time upstream=$upstream_status/$upstream_response_time"
)

# Idle connections each nginx worker keeps open to the web workers, and for how long: under
# the workers' keep-alive (`keepalive` in mymedic/gunicorn.py, 5 s), so nginx never sends a
# request on a connection a worker is closing.
UPSTREAM_KEEPALIVE_CONNECTIONS = 32
UPSTREAM_KEEPALIVE_SECONDS = 4


@dataclass(frozen=True)
class ProxyConfig:
    """What differs between deployments; every deadline in seconds."""

    port: int
    upstream: str  # host:port of the web server (gunicorn)
    directory: Path  # pid, logs and temporary files
    static_root: Path
    listen: str = "127.0.0.1"
    header_timeout: int = field(default_factory=lambda: settings.MYMEDIC_PROXY_HEADER_TIMEOUT)
    body_timeout: int = field(default_factory=lambda: settings.MYMEDIC_PROXY_BODY_TIMEOUT)
    send_timeout: int = field(default_factory=lambda: settings.MYMEDIC_PROXY_SEND_TIMEOUT)
    keepalive_timeout: int = field(default_factory=lambda: settings.MYMEDIC_PROXY_KEEPALIVE_TIMEOUT)
    keepalive_requests: int = field(
        default_factory=lambda: settings.MYMEDIC_PROXY_KEEPALIVE_REQUESTS
    )
    connections_per_address: int = field(
        default_factory=lambda: settings.MYMEDIC_PROXY_CONNECTIONS_PER_ADDRESS
    )
    stream_timeout: int = field(default_factory=lambda: settings.MYMEDIC_PROXY_STREAM_TIMEOUT)
    worker_connections: int = 1024


@dataclass(frozen=True)
class Routing:
    """Where requests go: one upstream (the web server) by default; the edge (mymedic/edge.py)
    names one upstream per cell and picks one by host (`target` names a `map` variable that
    `http_extra` defines), and refuses the cell-internal paths."""

    upstreams: dict[str, str]  # upstream name -> host:port
    target: str  # what proxy_pass names, e.g. http://mymedic_web or http://$cell_upstream
    http_extra: str = ""
    refused: tuple[str, ...] = ()


def _location(
    prefix: str, body_bytes: int, extra: str = "", target: str = "http://mymedic_web"
) -> str:
    # The API answers JSON, its 413 included (nginx's own page is HTML).
    if prefix.startswith("/api/"):
        extra += f"            error_page 413 @too_large_{body_bytes};\n"
    return (
        f"        location {prefix} {{\n"
        f"            client_max_body_size {body_bytes};\n"
        f"{extra}"
        f"            proxy_pass {target};\n"
        "        }\n"
    )


def _refused(prefix: str) -> str:
    return (
        f"        location {prefix} {{\n"
        "            default_type application/json;\n"
        '            return 404 \'{"detail": "Not found."}\';\n'
        "        }\n"
    )


def _too_large(body_bytes: int) -> str:
    detail = f"The request body is too large (at most {body_bytes} bytes)."
    return (
        f"        location @too_large_{body_bytes} {{\n"
        "            default_type application/json;\n"
        f'            return 413 \'{{"detail": "{detail}"}}\';\n'
        "        }\n"
    )


def nginx_config(config: ProxyConfig, routing: Routing | None = None) -> str:
    """The whole nginx.conf for `nginx -c FILE -g 'daemon off;'`."""
    routing = routing or Routing(
        upstreams={"mymedic_web": config.upstream}, target="http://mymedic_web"
    )
    target = routing.target
    # Idle connections to the workers are kept for reuse (no TCP handshake per request), and
    # dropped before the workers' own keep-alive (mymedic/gunicorn.py) would close them under
    # a request in flight.
    upstreams = "".join(
        f"    upstream {name} {{\n        server {address};\n"
        f"        keepalive {UPSTREAM_KEEPALIVE_CONNECTIONS};\n"
        f"        keepalive_timeout {UPSTREAM_KEEPALIVE_SECONDS}s;\n    }}\n"
        for name, address in routing.upstreams.items()
    )
    here = config.directory
    # As root, nginx's workers drop to an unprivileged user; otherwise they run as the caller.
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {here / 'temp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # The live board (/events/branches/{id}/): a response that never ends, passed on as it
    # is written.
    stream = (
        "            proxy_buffering off;\n"
        "            proxy_cache off;\n"
        f"            proxy_read_timeout {config.stream_timeout}s;\n"
    )
    body, upload = settings.MYMEDIC_MAX_BODY_BYTES, settings.MYMEDIC_MAX_UPLOAD_BYTES
    locations = "".join(
        [
            *(_refused(prefix) for prefix in routing.refused),
            *(_location(prefix, upload, target=target) for prefix in settings.MYMEDIC_UPLOAD_PATHS),
            _location("/api/", body, target=target),
            _location("/events/", body, stream, target=target),
            _location("/", body, target=target),
            _too_large(body),
            _too_large(upload),
        ]
    )
    return f"""# Written by `manage.py proxy` from mymedic/proxy.py and the settings; edit those.
{user}worker_processes 1;
pid {here / "nginx.pid"};
error_log stderr crit;

events {{
    worker_connections {config.worker_connections};
}}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    server_tokens off;
    sendfile on;
{temp}

    log_format mymedic '{LOG_FORMAT}';
    access_log {here / "access.log"} mymedic;

    # Slow clients: a deadline for the headers, for each read of the body and each write of
    # the answer; a timed-out connection is reset rather than lingering.
    client_header_timeout {config.header_timeout}s;
    client_body_timeout {config.body_timeout}s;
    send_timeout {config.send_timeout}s;
    reset_timedout_connection on;
    keepalive_timeout {config.keepalive_timeout}s;
    keepalive_requests {config.keepalive_requests};
    client_header_buffer_size 1k;
    large_client_header_buffers 4 8k;

    # Requests in progress per client address (a clinic behind NAT shares one).
    limit_conn_zone $binary_remote_addr zone=per_address:10m;
    limit_conn per_address {config.connections_per_address};
    limit_conn_status 429;

{upstreams}{routing.http_extra}
    # Bodies are read whole here before the application is asked (proxy_request_buffering).
    proxy_http_version 1.1;
    proxy_request_buffering on;
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header Connection "";
    proxy_connect_timeout 5s;
    proxy_read_timeout 60s;

    server {{
        listen {config.listen}:{config.port};
        server_name _;

        location /static/ {{
            alias {config.static_root}/;
            expires 1h;
        }}
{locations}    }}
}}
"""


def write(config: ProxyConfig, routing: Routing | None = None) -> Path:
    """Writes nginx.conf into the proxy's directory (made readable by nginx's workers)."""
    for folder in (config.directory, config.directory / "temp"):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
    path = config.directory / "nginx.conf"
    path.write_text(nginx_config(config, routing))
    return path
