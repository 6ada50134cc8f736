"""The one place that says what time it is (UTC, aware), and which times from other systems are real."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator

# How far ahead of ours another system's clock may be. Newest wins for stock and parcels, so a time far
# ahead (2099) would make every real event after it look old, and freeze that SKU or parcel for good.
MAX_CLOCK_AHEAD = timedelta(minutes=5)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Make a datetime read back from the database aware (SQLite drops the zone)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def a_real_moment(value: datetime) -> datetime:
    """`value` in UTC (a time without a zone is taken as UTC); ValueError when it has no UTC equivalent
    (9999-12-31T23:59:59-01:00) or is more than MAX_CLOCK_AHEAD ahead of ours."""
    try:
        in_utc = as_utc(value)
    except OverflowError:
        raise ValueError("this time has no UTC equivalent") from None
    if in_utc > utcnow() + MAX_CLOCK_AHEAD:
        raise ValueError("this time is in the future")
    return in_utc


# A time another system gives us (pydantic field type): see `a_real_moment`.
UpstreamTime = Annotated[datetime, AfterValidator(a_real_moment)]
