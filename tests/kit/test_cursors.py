"""The page cursor codec: round trips, and refuses every forged cursor with 400 invalid_cursor; reading a
page by its key."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import StaticPool

from rakuten_connector.kit.cursors import (
    INVALID_CURSOR,
    decode_cursor,
    decode_position,
    encode_cursor,
    encode_position,
    fetch_page,
    invalid_cursor,
)
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


def test_the_documented_answer_is_the_one_given() -> None:
    error = invalid_cursor()
    assert {error.status_code: (error.code, error.message)} == INVALID_CURSOR


class _Base(DeclarativeBase):
    pass


class _Keyed(_Base):
    __tablename__ = "keyed"

    key: Mapped[str] = mapped_column(String(8), primary_key=True)


@pytest.fixture
async def session() -> AsyncIterator[AsyncSession]:
    engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    async with engine.begin() as connection:
        await connection.run_sync(_Base.metadata.create_all)
    async with AsyncSession(engine) as session:
        session.add_all(_Keyed(key=key) for key in "abcde")
        await session.commit()
        yield session
    await engine.dispose()


async def _pages(session: AsyncSession, limit: int) -> list[tuple[list[str], str | None]]:
    pages: list[tuple[list[str], str | None]] = []
    cursor: str | None = None
    while True:
        query = select(_Keyed).order_by(_Keyed.key)
        if cursor:
            query = query.where(_Keyed.key > decode_cursor(cursor, 1)[0])
        rows, cursor = await fetch_page(session, query, limit, lambda row: encode_cursor([row.key]))
        pages.append(([row.key for row in rows], cursor and decode_cursor(cursor, 1)[0]))
        if cursor is None:
            return pages


async def test_a_page_ends_where_the_next_starts_and_the_last_has_no_cursor(session: AsyncSession) -> None:
    assert await _pages(session, 2) == [(["a", "b"], "b"), (["c", "d"], "d"), (["e"], None)]


async def test_a_last_page_just_full_has_no_cursor(session: AsyncSession) -> None:
    assert await _pages(session, 5) == [(["a", "b", "c", "d", "e"], None)]
