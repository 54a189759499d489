"""Calls from one cell to another's internal endpoints (`/internal/cells/...` on the public
host): over loopback or the private network, with the shared `MYMEDIC_CELL_SECRET`, never
through the edge (which refuses `/internal/`)."""

import hmac
import json
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings

from apps.core.errors import Conflict, DomainError, InvalidInput, NotFound, Unavailable
from apps.directory.cells import Cell

SECRET_HEADER = "X-MyMedic-Cell-Secret"  # noqa: S105  (a header name)
TIMEOUT_SECONDS = 30.0
_ERRORS: dict[int, type[DomainError]] = {
    400: InvalidInput,
    404: NotFound,
    409: Conflict,
    503: Unavailable,
}


def secret_matches(given: str | None) -> bool:
    """Whether a caller presented this deployment's cell secret (none configured: nobody)."""
    expected = settings.MYMEDIC_CELL_SECRET
    return bool(expected) and hmac.compare_digest((given or "").encode(), expected.encode())


def call_cell(cell: Cell, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    """POSTs `payload` to the cell's `/internal/cells/{path}` and returns its JSON answer; the
    cell's refusal comes back as the same domain error (its body kept), an unreachable cell as
    503."""
    request = urllib.request.Request(  # noqa: S310  (a configured http(s) URL)
        f"{cell.url}/internal/cells/{path}",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Host": settings.BASE_DOMAIN,
            SECRET_HEADER: settings.MYMEDIC_CELL_SECRET,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return dict(json.load(response))
    except urllib.error.HTTPError as exc:
        body = _json(exc.read())
        error = _ERRORS.get(exc.code, Unavailable)
        if error is InvalidInput and body and "detail" not in body:
            raise InvalidInput(errors=body) from exc
        raise error(str((body or {}).get("detail", f"Cell {cell.name} refused."))) from exc
    except (OSError, ValueError) as exc:
        raise Unavailable("The region's cell cannot be reached now; nothing was created.") from exc


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
