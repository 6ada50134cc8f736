from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import aclosing

import pytest

from rakuten_connector.kit.concurrency import in_order


class Calls:
    """Calls that finish after given delays, counting how many run at once."""

    def __init__(self) -> None:
        self.running = self.most = 0
        self.started: list[int] = []
        self.cancelled: list[int] = []

    def call(self, n: int, delay: float, fail: bool = False) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            self.started.append(n)
            self.running += 1
            self.most = max(self.most, self.running)
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                self.cancelled.append(n)
                raise
            finally:
                self.running -= 1
            if fail:
                raise ValueError(n)
            return n

        return run


async def test_results_come_in_the_order_of_the_calls_whatever_their_speed() -> None:
    calls = Calls()
    delays = [0.05, 0.0, 0.03, 0.0, 0.01, 0.04, 0.0]
    results = [r async for r in in_order([calls.call(n, d) for n, d in enumerate(delays)], 3)]
    assert results == list(range(len(delays)))
    assert calls.most == 3


async def test_no_more_than_the_concurrency_run_at_once_and_all_run() -> None:
    calls = Calls()
    results = [r async for r in in_order([calls.call(n, 0.001 * (n % 4)) for n in range(40)], 4)]
    assert results == list(range(40))
    assert calls.most == 4
    assert sorted(calls.started) == list(range(40))


async def test_a_failing_call_raises_at_its_turn_after_the_results_before_it() -> None:
    calls = Calls()
    seen: list[int] = []

    async def read() -> None:
        async for result in in_order([calls.call(n, 0.01, fail=n == 2) for n in range(6)], 3):
            seen.append(result)

    with pytest.raises(ValueError, match="2"):
        await read()
    assert seen == [0, 1]
    await asyncio.sleep(0)
    assert calls.running == 0  # the calls started ahead were cancelled, none is left running


async def test_leaving_early_cancels_the_calls_started_ahead() -> None:
    calls = Calls()
    async with aclosing(in_order([calls.call(n, 0.01 if n == 0 else 60) for n in range(10)], 4)) as results:
        async for result in results:
            assert result == 0
            break
    assert calls.running == 0
    assert sorted(calls.cancelled) == [1, 2, 3]  # the fifth call, started as the first ended, never ran
    assert sorted(calls.started) == [0, 1, 2, 3]


async def test_no_calls_and_a_concurrency_below_one() -> None:
    assert [r async for r in in_order([], 4)] == []
    calls = Calls()
    assert [r async for r in in_order([calls.call(n, 0) for n in range(3)], 0)] == [0, 1, 2]
    assert calls.most == 1
