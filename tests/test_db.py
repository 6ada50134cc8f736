"""Deadlock victims are run again, rolled back first and their objects reloaded; any other database
error propagates at once."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from rakuten_connector.db import DEADLOCK_TRIES, retry_deadlocks


class _Session:
    def __init__(self) -> None:
        self.rollbacks = 0

    async def rollback(self) -> None:
        self.rollbacks += 1


def _error(text: str) -> DBAPIError:
    return DBAPIError("UPDATE stock_states ...", {}, Exception(text))


async def test_a_deadlock_victim_is_rolled_back_reloaded_and_run_again() -> None:
    session, calls, reloads = _Session(), [], []

    async def work() -> str:
        calls.append(len(calls))
        if len(calls) < 3:
            raise _error("deadlock detected")
        return "done"

    async def reload() -> None:
        reloads.append(session.rollbacks)

    assert await retry_deadlocks(work, session, reload) == "done"
    assert len(calls) == 3
    assert session.rollbacks == 2
    assert reloads == [1, 2]  # each after its rollback


async def test_another_database_error_is_not_retried_and_a_deadlock_that_persists_gives_up() -> None:
    calls: list[int] = []

    async def other() -> None:
        calls.append(1)
        raise _error("duplicate key value violates unique constraint")

    with pytest.raises(DBAPIError, match="duplicate key"):
        await retry_deadlocks(other)
    assert calls == [1]

    async def always() -> None:
        calls.append(2)
        raise _error("deadlock detected")

    with pytest.raises(DBAPIError, match="deadlock"):
        await retry_deadlocks(always)
    assert calls.count(2) == DEADLOCK_TRIES.max_attempts
