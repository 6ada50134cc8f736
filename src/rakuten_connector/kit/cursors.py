"""Opaque page cursors: URL-safe base64 (unpadded) of a JSON array of strings.

A cursor comes back from the client, so decoding trusts nothing: any cursor that is not exactly what
`encode_cursor` would give for values of the expected shape answers 400 `invalid_cursor`. Text the database cannot
store (NUL, lone surrogates) and times whose conversion to UTC leaves the calendar are refused here too.

Also the routes' side of paging: the `cursor` query parameter, its OpenAPI error answer, and reading a page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import Query
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.kit.errors import JSON_PARSE_ERRORS, ApiError
from rakuten_connector.kit.text_guard import storable

_Row = TypeVar("_Row")

INVALID_CURSOR_MESSAGE = "The cursor is not one this API gave."
# The OpenAPI answer of a route taking a cursor.
INVALID_CURSOR = {400: ("invalid_cursor", INVALID_CURSOR_MESSAGE)}
_CURSOR_DESCRIPTION = "The `next_cursor` of the previous page (none: the first page)."
# The `cursor` of a page ordered by (time, id), as `encode_position` gives it: short.
PositionCursorQuery = Annotated[str | None, Query(max_length=512, description=_CURSOR_DESCRIPTION)]
# The `cursor` of a page ordered by a key of the caller's text (a SKU), as `encode_cursor` gives it.
KeyCursorQuery = Annotated[str | None, Query(max_length=1024, description=_CURSOR_DESCRIPTION)]


def invalid_cursor() -> ApiError:
    return ApiError(400, "invalid_cursor", INVALID_CURSOR_MESSAGE)


def encode_cursor(parts: Sequence[str]) -> str:
    raw = json.dumps(list(parts), ensure_ascii=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, length: int) -> list[str]:
    """The `length` strings a cursor carries."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (*JSON_PARSE_ERRORS, TypeError, binascii.Error):
        raise invalid_cursor() from None
    if not isinstance(parts, list) or len(parts) != length:
        raise invalid_cursor()
    if not all(isinstance(part, str) and storable(part) for part in parts):
        raise invalid_cursor()
    return parts


def encode_position(when: datetime, key: str) -> str:
    """A keyset position: a time and a tie-breaking key."""
    return encode_cursor([when.astimezone(UTC).isoformat(), key])


def decode_position(cursor: str) -> tuple[datetime, str]:
    """The (aware, UTC) time and the key of `encode_position`."""
    text, key = decode_cursor(cursor, 2)
    try:
        when = datetime.fromisoformat(text)
        if when.tzinfo is None:
            raise invalid_cursor()
        return when.astimezone(UTC), key
    except (ValueError, OverflowError):
        raise invalid_cursor() from None


async def fetch_page(
    session: AsyncSession, query: Select[_Row], limit: int, cursor_of: Callable[[_Row], str]
) -> tuple[list[_Row], str | None]:
    """The first `limit` rows of `query` (ordered by its key, after the cursor it was given) and the cursor
    of the next page, `cursor_of` its last row (None on the last page: one row more is read to know)."""
    rows = list((await session.scalars(query.limit(limit + 1))).all())
    if len(rows) > limit:
        return rows[:limit], cursor_of(rows[limit - 1])
    return rows, None
