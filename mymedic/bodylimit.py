"""Refuses request bodies over the cap (413) before anything reads them.

Django's ASGI handler spools every body to a temporary file before a view runs, and DRF's
JSON parser reads past DATA_UPLOAD_MAX_MEMORY_SIZE; so the cap sits in front of both, at the
ASGI layer: a declared Content-Length over the cap is refused at once, and a body streamed
without one (chunked) is counted as it arrives and refused when it crosses the cap.
"""

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def body_cap(path: str) -> int:
    """The most bytes a request to `path` may send (uploads have their own, larger cap)."""
    if any(path.startswith(prefix) for prefix in settings.MYMEDIC_UPLOAD_PATHS):
        return int(settings.MYMEDIC_MAX_UPLOAD_BYTES)
    return int(settings.MYMEDIC_MAX_BODY_BYTES)


async def _refuse(scope: Scope, send: Send, cap: int) -> None:
    message = f"The request body is too large (at most {cap} bytes)."
    if scope.get("path", "").startswith("/api/"):
        body = json.dumps({"detail": message}).encode()
        content_type = b"application/json"
    else:
        body = f"<!doctype html><title>Too large</title><h1>413</h1><p>{message}</p>".encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = body_cap(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = cap + 1  # unreadable: refuse rather than guess
                if declared > cap:
                    await _refuse(scope, send, cap)
                    return
        received = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    refused = True
                    await _refuse(scope, send, cap)
                    return {"type": "http.disconnect"}  # the app stops reading and answers nothing
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counting_receive, guarded_send)
