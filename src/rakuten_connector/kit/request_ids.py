"""An id for every HTTP request: on its answer (`X-Request-ID`) and in every log line written while it runs.

The id comes from the caller when it sent a sane one (a proxy's, a client's retry of the same call), else a
new one; asgi-correlation-id keeps it in a context variable that `kit/logging.py` reads (`request_id`).

Starlette answers an unhandled exception from outside every middleware (its ServerErrorMiddleware), so that
500 gets the header from the error handler (`request_id_header`). The same handler also answers from inside
(a database error that is not an outage): the middleware then keeps the header the handler already set
instead of adding a second one.
"""

from __future__ import annotations

import re

from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
_HEADER_KEY = REQUEST_ID_HEADER.lower().encode()
# A caller's id is echoed in a header and written in log lines: short, and nothing that could forge a line
# or a header (no spaces, quotes, control characters).
REQUEST_ID_MAX_CHARS = 128
_SANE_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{REQUEST_ID_MAX_CHARS}}}")


def is_sane_request_id(value: str) -> bool:
    return _SANE_ID.fullmatch(value) is not None


def current_request_id() -> str | None:
    """The id of the request being answered in this context, None outside requests."""
    return correlation_id.get()


def request_id_header() -> dict[str, str]:
    """The header an answer built outside the middleware needs (empty outside a request)."""
    request_id = correlation_id.get()
    return {REQUEST_ID_HEADER: request_id} if request_id else {}


class RequestIds(CorrelationIdMiddleware):
    """asgi-correlation-id's middleware (plain ASGI), with our validation and one header per answer."""

    def __init__(self, app: ASGIApp) -> None:
        # The request's own headers are left as they came: nothing downstream reads the id from there.
        super().__init__(
            app, header_name=REQUEST_ID_HEADER, update_request_header=False, validator=is_sane_request_id
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_one_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                _keep_first_id(message)
            await send(message)

        await super().__call__(scope, receive, send_one_id)


def _keep_first_id(message: Message) -> None:
    headers: list[tuple[bytes, bytes]] = message.get("headers", [])
    ids = [i for i, (key, _) in enumerate(headers) if key.lower() == _HEADER_KEY]
    if len(ids) > 1:
        message["headers"] = [h for i, h in enumerate(headers) if i not in ids[1:]]
