"""Where daphne's HTTP layer would answer for the application, it answers by the contract.

- Twisted parses every POSTed multipart body into `request.args` before the application sees
  it (daphne never reads them) and answers one it cannot parse with a bare 400: no content
  type, no body. That parsing is turned off: DRF's parsers answer instead, in JSON.
- daphne refuses a request whose header holds a control character (CR, LF, NUL) with an HTML
  page. Under /api/ every error body is JSON, so there it answers `{"detail": ...}`.
"""

import json
from typing import Any


def keep_the_contract() -> None:
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # served by another ASGI server
        return
    if getattr(WebRequest, "keeps_the_contract", False):
        return
    original_init = WebRequest.__init__
    original_error = WebRequest.basic_error

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._parsePOSTFormSubmission = False

    def basic_error(self: Any, status: int, status_text: bytes, body: str) -> None:
        if not (getattr(self, "path", None) or b"").startswith(b"/api/"):
            original_error(self, status, status_text, body)
            return
        content = json.dumps({"detail": body}).encode()
        self.handle_reply(
            {"type": "http.response.start", "status": status,
             "headers": [(b"Content-Type", b"application/json"),
                         (b"Content-Length", str(len(content)).encode())]}
        )  # fmt: skip
        self.handle_reply({"type": "http.response.body", "body": content})

    WebRequest.__init__ = __init__
    WebRequest.basic_error = basic_error
    WebRequest.keeps_the_contract = True
