"""Request bodies are the application's to parse, not the web server's.

Twisted, under daphne, parses every POSTed multipart body into `request.args` before the
application sees it (daphne never reads them), and answers one it cannot parse with a bare
400: no content type, no body, the application never asked. The contract says every error
body is JSON, so Twisted's parsing is turned off and DRF's parsers answer instead (JSON 400s
naming the field). It also spares the server a second copy of every upload.
"""

from typing import Any


def leave_bodies_to_the_application() -> None:
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # served by another ASGI server
        return
    original = WebRequest.__init__
    if getattr(original, "leaves_bodies", False):
        return

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._parsePOSTFormSubmission = False

    __init__.leaves_bodies = True  # type: ignore[attr-defined]
    WebRequest.__init__ = __init__  # type: ignore[method-assign]
