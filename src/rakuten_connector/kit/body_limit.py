"""Refuse request bodies over the limit with a 413 in our error shape, chunked bodies included.

Starlette's own limiter answers in plain text when Content-Length is declared, so the limit lives here:
a declared length is refused before any byte is read; otherwise the body is read up to the limit and
handed to the app only when it fits (at most `max_body_size` bytes held per request). Checks that need the
whole body (`inspect`) run on the body read here, so no other layer reads it again.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rakuten_connector.kit.errors import error_response

# Given the request and its whole body: the app that refuses it, or None to let it through.
Inspector = Callable[[Scope, bytes], ASGIApp | None]


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_body_size: int, inspect: Inspector | None = None) -> None:
        self.app = app
        self.max_body_size = max_body_size
        self.inspect = inspect

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"The request body is larger than {self.max_body_size} bytes."
        await error_response(413, "payload_too_large", message)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await error_response(400, "bad_request", "Content-Length is not a number.")(scope, receive, send)
                return
            if int(declared) > self.max_body_size:
                await self._refuse(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_size:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        refusal = self.inspect(scope, body) if self.inspect is not None else None
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, replay_body(body, receive), send)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the app the body already read, then whatever comes next (a disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
