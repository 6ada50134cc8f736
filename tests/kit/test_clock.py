"""What time it is, and which times from other systems are real."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, ValidationError

from rakuten_connector.kit.clock import MAX_CLOCK_AHEAD, UpstreamTime, a_real_moment, as_utc, utcnow


def test_now_is_aware_utc() -> None:
    assert utcnow().tzinfo is UTC


def test_a_time_read_back_without_a_zone_is_utc_and_another_zone_is_converted() -> None:
    naive = datetime(2026, 12, 1, 10, 0)
    assert as_utc(naive) == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    paris = datetime(2026, 12, 1, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    assert as_utc(paris) == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert as_utc(paris).tzinfo is UTC


def test_a_real_moment_takes_the_past_and_a_clock_slightly_ahead() -> None:
    slightly_ahead = utcnow() + MAX_CLOCK_AHEAD - timedelta(seconds=30)
    assert a_real_moment(slightly_ahead) == slightly_ahead
    assert a_real_moment(datetime(2001, 1, 1)) == datetime(2001, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2099, 1, 1, tzinfo=UTC),  # would freeze a SKU or parcel: every real event would look older
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-1))),  # no UTC equivalent
    ],
)
def test_a_time_far_ahead_or_without_a_utc_equivalent_is_refused(value: datetime) -> None:
    with pytest.raises(ValueError, match=r"future|UTC equivalent"):
        a_real_moment(value)

    class Event(BaseModel):
        at: UpstreamTime

    with pytest.raises(ValidationError):
        Event(at=value)
