"""Opaque page cursors: URL-safe base64 (unpadded) of a JSON array of strings.

A cursor comes back from the client, so decoding trusts nothing: any cursor that is not exactly what
`encode_cursor` would give for values of the expected shape answers 400 `invalid_cursor`. Text the database cannot
store (NUL, lone surrogates) and times whose conversion to UTC leaves the calendar are refused here too.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from rakuten_connector.kit.errors import JSON_PARSE_ERRORS, ApiError
from rakuten_connector.kit.text_guard import storable


def invalid_cursor() -> ApiError:
    return ApiError(400, "invalid_cursor", "The cursor is not one this API gave.")


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
