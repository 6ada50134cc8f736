"""Waiting in tests: on the condition a test needs, with a deadline generous enough for a loaded 2-core
machine (CI shares its cores). Never a fixed sleep standing for "it should be done by now"."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

DEADLINE_SECONDS = 60.0


async def wait_until(
    check: Callable[[], Awaitable[bool] | bool],
    seconds: float = DEADLINE_SECONDS,
    what: str = "condition",
    state: Callable[[], Awaitable[object]] | None = None,
    every: float = 0.05,
) -> None:
    """Poll `check` until it is true; on timeout, say what was awaited and (`state`) what was seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if loop.time() > deadline:
            seen = f"; seen: {await state()}" if state else ""
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}{seen}")
        await asyncio.sleep(every)
