"""The page cursor codec: round trips, and refuses every forged cursor with 400 invalid_cursor."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from rakuten_connector.kit.cursors import decode_cursor, decode_position, encode_cursor, encode_position
from rakuten_connector.kit.errors import ApiError


def test_positions_round_trip_in_utc() -> None:
    when = datetime(2024, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    decoded = decode_position(encode_position(when, "order-1"))
    assert decoded == (when, "order-1")
    assert decoded[0].tzinfo is UTC


def test_text_round_trips() -> None:
    assert decode_cursor(encode_cursor(["Référence/é ✓"]), 1) == ["Référence/é ✓"]


@pytest.mark.parametrize(
    "raw",
    [
        b'["9999-12-31T23:00:00-05:00","x"]',
        b'["0001-01-01T00:00:00+05:00","x"]',
        b'["2024-01-01T00:00:00","x"]',
        b'["not a time","x"]',
        b'["2024-01-01T00:00:00+00:00","x\\u0000"]',
        b'["2024-01-01T00:00:00+00:00","x\\ud800"]',
        b"[" * 100_000,
        b"\xff",
    ],
)
def test_forged_positions_are_refused(raw: bytes) -> None:
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(ApiError) as caught:
        decode_position(cursor)
    assert (caught.value.status_code, caught.value.code) == (400, "invalid_cursor")


def test_not_base64_is_refused() -> None:
    with pytest.raises(ApiError):
        decode_cursor("%%%", 1)
