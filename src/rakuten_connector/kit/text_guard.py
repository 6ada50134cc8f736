"""Refuse text no database can store, wherever a request carries it: 422 before any route runs.

PostgreSQL refuses NUL in text, and no UTF-8 codec can write a lone surrogate (which a JSON body can spell
`\\ud800`): either would reach the database as a 500 after part of the work. `unstorable_text` checks the path,
every query name and value and every string (keys included) of a JSON body. A body is parsed only when its
bytes hold such an escape, so ordinary requests pay one scan. A body that is not JSON is left to the route.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Scope

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


def unstorable_text(scope: Scope, body: bytes) -> ASGIApp | None:
    """The 422 for a request carrying text no database can store, or None; `BodySizeLimit` calls it with the
    body it read, so the body is read once."""
    where = bad_target_location(scope) or bad_body_location(body)
    if where is None:
        return None
    details = [{"loc": where, "type": "string_unstorable", "msg": _MESSAGE}]
    return error_response(422, "validation_error", _MESSAGE, details)
