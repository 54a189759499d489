"""The web worker class for gunicorn: uvicorn serving the ASGI application.

Each gunicorn worker process runs one uvicorn event loop, so a live board's Server-Sent
Events stream is a coroutine, not a thread. Set apart from uvicorn's defaults:

- `proxy_headers` off: uvicorn would otherwise take the client address from any loopback
  peer's `X-Forwarded-For`; the one rule for that is `apps/core/clientip.py`.
- `access_log` off: uvicorn's line prints the query string; `mymedic/accesslog.py` writes
  the access log without it.
- `lifespan` off: Django has no start-up or shut-down hooks to run.
"""

from typing import Any

from uvicorn_worker import UvicornWorker


class WebWorker(UvicornWorker):
    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "auto",
        "http": "auto",
        "lifespan": "off",
        "proxy_headers": False,
        "access_log": False,
        "server_header": False,
    }
