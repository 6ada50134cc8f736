"""Refuse text no database can store, wherever a request carries it: 422 before any route runs.

PostgreSQL refuses NUL in text, and no UTF-8 codec can write a lone surrogate (which a JSON body can spell
`\\ud800`): either would reach the database as a 500 after part of the work. This layer checks the path,
every query name and value and every string (keys included) of a JSON body. A body is parsed only when its
bytes hold such an escape, so ordinary requests pay one scan. A body that is not JSON is left to the route.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from rakuten_connector.kit.body_limit import replay_body
from rakuten_connector.kit.errors import JSON_PARSE_ERRORS, error_response

_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF])")
_MESSAGE = "Text may not contain the NUL character or an unpaired surrogate."

Location = list[str | int]


def storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad_json_location(value: Any, loc: Location) -> Location | None:
    """Where the first unstorable string of a parsed JSON value is, if any (iterative: depth is free)."""
    stack: list[tuple[Any, Location]] = [(value, loc)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if not storable(item):
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                if not storable(key):
                    return [*where, "<key>"]
                stack.append((child, [*where, key]))
        elif isinstance(item, list):
            stack.extend((child, [*where, index]) for index, child in enumerate(item))
    return None


def bad_body_location(body: bytes) -> Location | None:
    if not _SUSPECT_ESCAPE.search(body):
        return None
    try:
        parsed = json.loads(body)
    except JSON_PARSE_ERRORS:
        return None  # not JSON: the route answers that
    return _bad_json_location(parsed, ["body"])


def bad_target_location(scope: Scope) -> Location | None:
    if not storable(scope.get("path", "")):
        return ["path"]
    # As Starlette reads the query string (undecodable bytes become U+FFFD).
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if not storable(name):
            return ["query", "<name>"]
        if not storable(value):
            return ["query", name]
    return None


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole body, and whether the client went away meanwhile."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


class TextGuard:
    """ASGI middleware; put it inside the body size limit, which bounds what is read here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = bad_target_location(scope)
        if where is not None:
            await self._refuse(where, scope, receive, send)
            return
        body, gone = await _read_body(receive)
        if gone:
            return
        where = bad_body_location(body)
        if where is not None:
            await self._refuse(where, scope, receive, send)
            return
        await self.app(scope, replay_body(body, receive), send)

    @staticmethod
    async def _refuse(where: Location, scope: Scope, receive: Receive, send: Send) -> None:
        details = [{"loc": where, "type": "string_unstorable", "msg": _MESSAGE}]
        await error_response(422, "validation_error", _MESSAGE, details)(scope, receive, send)
