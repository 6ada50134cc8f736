"""A clock tests move forward (fixture `clock`): what `kit.clock.utcnow` says for everything in this
process (the connector, an in-process worker, both sandboxes), so hours pass in a test at once.

Only `utcnow` moves: arq, asyncio and PyJWT keep the real time (a token issued before a move stays
valid). A lease held while the clock moves past its end is lost, as it would be after that much time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

import pytest

from rakuten_connector.kit import clock as kit_clock

_REAL = datetime


class MovingClock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def advance(self, delta: timedelta) -> None:
        assert delta >= timedelta(), "this clock only moves forward"
        self.offset += delta


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> MovingClock:
    moving = MovingClock()

    class _Moved(_REAL):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return _REAL.now(tz) + moving.offset

    monkeypatch.setattr(kit_clock, "datetime", _Moved)
    return moving
