"""The edge: one nginx in front of every cell, routing each host to the cell that serves it.

It is the reverse proxy of `mymedic/proxy.py` (same deadlines, caps, logs, static files and
unbuffered live streams) with one upstream per cell and a `map $host $cell_upstream` whose
lines (one per tenant host) are written from the global directory into `hosts.map`. The
public site, the directory API and any host the map does not name go to the directory's cell
(`MYMEDIC_DIRECTORY_CELL`, default the first configured), which answers 404 for an unknown
tenant. Cell-internal paths (`/internal/`) are refused here.

`manage.py edge` runs nginx and listens on the directory's NOTIFY channel: after a change
(a sign-up, a removal, a move) and a short quiet period (debounce) it rewrites `hosts.map`
and, if it changed, reloads nginx gracefully (SIGHUP to the master, as `nginx -s reload`
does): requests in progress finish on the old configuration.
"""

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from mymedic.proxy import ProxyConfig, Routing

MAP_FILE = "hosts.map"
# Not for clients: cell-to-cell calls (apps/directory/forward.py) and metrics scrapes go to
# each cell directly.
REFUSED = ("/internal/",)


def upstream_name(cell: str) -> str:
    return f"cell_{cell.replace('-', '_')}"


def directory_cell() -> str:
    return settings.MYMEDIC_DIRECTORY_CELL or next(iter(settings.MYMEDIC_CELLS))


def cell_upstreams() -> dict[str, str]:
    """upstream name -> host:port of each configured cell's web server."""
    upstreams = {}
    for name, spec in settings.MYMEDIC_CELLS.items():
        parts = urlsplit(str(spec["url"]))
        upstreams[upstream_name(name)] = f"{parts.hostname}:{parts.port or 80}"
    return upstreams


def routing(directory: Path) -> Routing:
    http_extra = (
        "    map_hash_max_size 262144;\n"
        "    map_hash_bucket_size 128;\n"
        "    map $host $cell_upstream {\n"
        "        hostnames;\n"
        f"        default {upstream_name(directory_cell())};\n"
        f"        include {directory / MAP_FILE};\n"
        "    }\n"
    )
    return Routing(
        upstreams=cell_upstreams(),
        target="http://$cell_upstream",
        http_extra=http_extra,
        refused=REFUSED,
    )


def host_map_text(pairs: list[tuple[str, str]]) -> str:
    """The map's lines: `host cell_upstream;`, one per tenant host, for cells that exist (a
    host of an unknown cell falls to the default)."""
    known = set(settings.MYMEDIC_CELLS)
    lines = [f"{host} {upstream_name(cell)};\n" for host, cell in pairs if cell in known]
    return "# Written by `manage.py edge` from the directory; do not edit.\n" + "".join(lines)


def write_host_map(directory: Path, pairs: list[tuple[str, str]]) -> bool:
    """Writes hosts.map atomically (nginx may read it at any moment); True when it changed."""
    path = directory / MAP_FILE
    text = host_map_text(pairs)
    if path.exists() and path.read_text() == text:
        return False
    partial = path.with_suffix(".partial")
    partial.write_text(text)
    partial.chmod(0o644)
    partial.replace(path)
    return True


def edge_config(*, port: int, directory: Path, static_root: Path, listen: str) -> ProxyConfig:
    return ProxyConfig(
        port=port,
        upstream=cell_upstreams()[upstream_name(directory_cell())],
        directory=directory,
        static_root=static_root,
        listen=listen,
    )
