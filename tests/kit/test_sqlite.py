"""`kit/sqlite.py`: SQLite connections release their write lock when closed, whatever was left half-read, and
the writers of one process take turns in arrival order."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from rakuten_connector.db import create_engine
from rakuten_connector.kit.sqlite import SQLiteConnection, WriteGate


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


def test_many_writers_of_one_process_never_starve(tmp_path: Path) -> None:
    """Each writer holds the lock briefly, but there are many and each writes again at once: with plain
    connections, SQLite's busy handler lets the writer that just committed win again and again while the
    others time out (a timeout of 1 s failed every run on this machine); the gate serves each in turn."""
    path = tmp_path / "db.sqlite"
    _table(path)
    failures: list[str] = []

    def writer() -> None:
        connection = sqlite3.connect(path, timeout=10, factory=SQLiteConnection, check_same_thread=False)
        try:
            for _ in range(15):
                try:
                    connection.execute("UPDATE t SET v = v + 1 WHERE id = 1")
                    time.sleep(0.004)  # work inside the transaction
                    connection.commit()
                except sqlite3.OperationalError as exc:
                    failures.append(str(exc))
                    connection.rollback()
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[:3]
