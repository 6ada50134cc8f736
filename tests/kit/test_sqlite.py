"""`kit/sqlite.py`: SQLite connections release their write lock when closed, whatever was left half-read, and
the writers of one process take turns in arrival order."""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from rakuten_connector.db import create_engine
from rakuten_connector.kit.sqlite import SQLiteConnection, WriteGate, gate_for


def _table(path: Path) -> None:
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        setup.execute("INSERT INTO t VALUES (1, 0)")


def _can_write(path: Path) -> bool:
    probe = sqlite3.connect(path, timeout=0.2)
    try:
        probe.execute("UPDATE t SET v = v WHERE id = 1")
        probe.commit()
        return True
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False
    finally:
        probe.close()


@pytest.mark.parametrize(("factory", "unlocked"), [(sqlite3.Connection, False), (SQLiteConnection, True)])
def test_closing_a_connection_with_a_half_read_returning_statement_releases_the_write_lock(
    tmp_path: Path, factory: type[sqlite3.Connection], unlocked: bool
) -> None:
    path = tmp_path / "db.sqlite"
    _table(path)
    connection = sqlite3.connect(path, factory=factory)
    cursor = connection.cursor()
    cursor.execute("UPDATE t SET v = v + 1 WHERE id = 1 RETURNING id")  # a row waits: the statement is live
    connection.close()
    # The plain connection is a zombie holding the write lock while `cursor` lives; ours is really closed.
    assert _can_write(path) is unlocked
    del cursor


async def test_a_task_cancelled_in_the_middle_of_a_statement_leaves_the_database_writable(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    _table(path)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        for attempt in range(60):

            async def write() -> None:
                async with engine.begin() as connection:
                    await connection.execute(text("UPDATE t SET v = v + 1 WHERE id = 1 RETURNING id"))

            task = asyncio.create_task(write())
            for _ in range(attempt % 9):  # cancel at every point of the statement's round trips
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert await asyncio.to_thread(_can_write, path), f"locked after cancelling at step {attempt % 9}"
            async with engine.begin() as connection:  # the pool goes on serving writes
                await connection.execute(text("UPDATE t SET v = v WHERE id = 1"))
    finally:
        await engine.dispose()


def test_the_gate_serves_waiters_in_the_order_they_came_and_skips_those_who_gave_up() -> None:
    gate = WriteGate()
    assert gate.acquire(1)
    served: list[str] = []

    def waiter(name: str, timeout: float) -> None:
        if gate.acquire(timeout):
            served.append(name)
            gate.release()

    quitter = threading.Thread(target=waiter, args=("quitter", 0.05))
    quitter.start()
    quitter.join()  # gave up while the gate was held
    threads = []
    for name in ("first", "second", "third"):
        thread = threading.Thread(target=waiter, args=(name, 10))
        thread.start()
        threads.append(thread)
        time.sleep(0.05)  # let each one take its ticket in turn
    gate.release()
    for thread in threads:
        thread.join()
    assert served == ["first", "second", "third"]


def _wait_for_tickets(gate: WriteGate, count: int) -> None:
    deadline = time.monotonic() + 30
    while gate._next_ticket < count:
        assert time.monotonic() < deadline, "the writer never asked the gate for its turn"
        time.sleep(0.01)


def test_writers_of_one_process_write_in_the_order_they_asked(tmp_path: Path) -> None:
    """SQLite's busy handler lets whoever retries at the right instant win, so a writer can lose every race
    until its timeout; through the gate, the writer that asked first writes first."""
    path = tmp_path / "db.sqlite"
    _table(path)
    gate = gate_for(os.path.realpath(path))
    holder = sqlite3.connect(path, factory=SQLiteConnection, check_same_thread=False)
    holder.execute("UPDATE t SET v = v + 1 WHERE id = 1")  # holds the write turn
    served: list[str] = []

    def writer(name: str) -> None:
        connection = sqlite3.connect(path, timeout=30, factory=SQLiteConnection)
        try:
            connection.execute("UPDATE t SET v = v + 1 WHERE id = 1")
            served.append(name)
            connection.commit()
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("first", "second", "third")]
    tickets = gate._next_ticket
    for n, thread in enumerate(threads, start=1):
        thread.start()
        _wait_for_tickets(gate, tickets + n)  # each one waits at the gate before the next comes
    holder.commit()
    for thread in threads:
        thread.join(30)
    holder.close()
    assert served == ["first", "second", "third"]


def test_a_connection_dropped_without_close_gives_its_turn_back(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    _table(path)
    forgotten = sqlite3.connect(path, factory=SQLiteConnection)
    forgotten.execute("UPDATE t SET v = v + 1 WHERE id = 1")
    del forgotten
    gc.collect()
    other = sqlite3.connect(path, timeout=2, factory=SQLiteConnection)
    try:
        other.execute("UPDATE t SET v = v + 1 WHERE id = 1")
        other.commit()
    finally:
        other.close()


def test_in_memory_databases_do_not_wait_for_each_other() -> None:
    first = sqlite3.connect(":memory:", factory=SQLiteConnection)
    second = sqlite3.connect(":memory:", factory=SQLiteConnection, timeout=0.5)
    try:
        for connection in (first, second):
            connection.execute("CREATE TABLE t (v INTEGER)")
            connection.execute("INSERT INTO t VALUES (1)")  # both write at once: two databases
        first.commit()
        second.commit()
    finally:
        first.close()
        second.close()
