"""The one backoff: exponential ceilings, full jitter under them, a cap, a bound on attempts."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from rakuten_connector.kit import retry
from rakuten_connector.kit.backoff import Backoff
from rakuten_connector.settings import Settings


def test_ceilings_double_up_to_the_cap_and_never_overflow() -> None:
    policy = Backoff(base=10, cap=1800)
    assert [policy.ceiling(n) for n in range(1, 10)] == [10, 20, 40, 80, 160, 320, 640, 1280, 1800]
    assert policy.ceiling(0) == policy.ceiling(-3) == 10
    assert policy.ceiling(10**9) == 1800


@given(attempt=st.integers(min_value=-5, max_value=10**6), seed=st.integers(0, 2**32))
def test_a_wait_is_never_negative_nor_above_its_ceiling(attempt: int, seed: int) -> None:
    policy = Backoff(base=2, cap=60)
    assert 0 <= policy.seconds(attempt, random.Random(seed)) <= policy.ceiling(attempt)


def test_shops_failing_together_come_back_spread_over_the_window() -> None:
    # 2,000 shops fail at the same second: their retries cover the window instead of one instant.
    policy, rng = Backoff(base=15, cap=240), random.Random(7)
    waits = [policy.seconds(5, rng) for _ in range(2000)]
    buckets = {int(w // 24) for w in waits}  # ten 24 s slices of the 240 s window
    assert buckets == set(range(10))
    assert len({round(w, 3) for w in waits}) > 1900


def test_attempts_are_bounded_when_asked() -> None:
    assert not Backoff(1, 2).exhausted(10**6)
    bounded = Backoff(1, 2, max_attempts=3)
    assert [bounded.exhausted(n) for n in (1, 2, 3, 4)] == [False, False, True, True]


@pytest.mark.parametrize(
    "kwargs", [{"base": 0, "cap": 1}, {"base": 5, "cap": 1}, {"base": 1, "cap": 2, "max_attempts": 0}]
)
def test_a_backoff_that_makes_no_sense_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"base <= cap|at least 1"):
        Backoff(**kwargs)


def test_settings_build_the_policies_and_refuse_a_base_above_its_cap() -> None:
    settings = Settings(import_interval_seconds=60, retry_import_cap_seconds=240)
    assert settings.import_backoff.cap == 60  # never longer than the import interval
    assert settings.order_backoff.max_attempts == settings.retry_order_max_attempts
    with pytest.raises(ValidationError, match="RETRY_STOCK_BASE_SECONDS"):
        Settings(retry_stock_base_seconds=100, retry_stock_cap_seconds=10)


async def test_retry_transient_waits_jittered_and_gives_up_after_its_attempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(retry.asyncio, "sleep", sleep)
    calls = 0

    async def failing() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("blip")

    with pytest.raises(ConnectionError):
        await retry.retry_transient(failing, (ConnectionError,), Backoff(1, 4, max_attempts=3))
    assert calls == 3
    assert len(waits) == 2
    assert 0 <= waits[0] <= 1
    assert 0 <= waits[1] <= 2
    with pytest.raises(ValueError, match="bounded"):
        await retry.retry_transient(failing, (ConnectionError,), Backoff(1, 4))
