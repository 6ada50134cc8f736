"""SQLite connections that never leave the database locked, for the embedded default.

SQLite has one write lock per database. Two things about it matter when the API, a worker and the
sandboxes share one process (the demo), each request or job on its own pooled connection:

- **A closed connection must really close.** SQLite keeps a closed connection alive as a "zombie", with
  its open transaction and its write lock, while any of its statements is unfinalized. A task cancelled
  between the two steps of a statement that returns rows (SQLAlchemy's async cursor executes, then
  fetches, in two trips to the driver's thread: `UPDATE ... RETURNING`, ORM inserts returning their ids)
  leaves such a statement behind; SQLAlchemy then closes the connection, yet the write lock stays until
  the garbage collector happens to free the cursor, and every other writer waits `busy_timeout` and fails
  with "database is locked". `close()` here closes the connection's cursors first.
- **Writers of one process take turns in arrival order.** SQLite's busy handler is not fair: a writer
  that waits retries every few milliseconds while newcomers take the lock the instant it is free, so with
  dozens of concurrent writers on a loaded machine one of them can lose every race for `busy_timeout` and
  fail. Here a write transaction first takes a ticket at the process's gate for that database file (in
  the connection's own driver thread, never in the event loop) and holds it until its commit, rollback
  or close. Other processes on the same file still meet at SQLite's lock, with the busy timeout.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

BUSY_TIMEOUT_SECONDS = 30.0
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_ISOLATION_LEVEL: Any = sqlite3.Connection.__dict__["isolation_level"]  # the C attribute, wrapped below


class WriteGate:
    """A ticket lock: one holder at a time, served in the order they asked; a waiter may give up."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._abandoned: set[int] = set()

    def acquire(self, timeout: float) -> bool:
        with self._changed:
            ticket = self._next_ticket
            self._next_ticket += 1
            deadline = time.monotonic() + timeout
            while self._serving != ticket:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._abandoned.add(ticket)
                    return False
                self._changed.wait(remaining)
            return True

    def release(self) -> None:
        with self._changed:
            self._serving += 1
            while self._serving in self._abandoned:
                self._abandoned.discard(self._serving)
                self._serving += 1
            self._changed.notify_all()


_GATES: dict[str, WriteGate] = {}
_GATES_LOCK = threading.Lock()


def gate_for(database: str) -> WriteGate:
    with _GATES_LOCK:
        gate = _GATES.get(database)
        if gate is None:
            gate = _GATES[database] = WriteGate()
        return gate


def _writes(sql: str) -> bool:
    return sql.lstrip().lstrip("(").lstrip()[:7].upper().startswith(_WRITES)


class GatedCursor(sqlite3.Cursor):
    """Takes the connection's write turn before a statement that writes."""

    connection: SQLiteConnection

    def execute(self, sql: str, parameters: Any = (), /) -> GatedCursor:
        return self._gated(sql, lambda: super(GatedCursor, self).execute(sql, parameters))

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> GatedCursor:
        return self._gated(sql, lambda: super(GatedCursor, self).executemany(sql, seq_of_parameters))

    def _gated(self, sql: str, run: Callable[[], object]) -> GatedCursor:
        if _writes(sql):
            self.connection.take_write_turn()
        try:
            run()
        except BaseException:
            self.connection.statement_failed()
            raise
        self.connection.statement_done(self)
        return self

    def fetchall(self) -> list[Any]:
        rows = super().fetchall()
        self.connection.statement_done(self, exhausted=True)
        return rows

    def close(self) -> None:
        super().close()
        self.connection.statement_done(self, exhausted=True)


class SQLiteConnection(sqlite3.Connection):
    """See the module docstring: a real close, and one write transaction at a time per process."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._cursors: weakref.WeakSet[sqlite3.Cursor] = weakref.WeakSet()
        # One gate per file, however it is named; an in-memory database is private to its connection.
        name = os.fsdecode(database)
        in_memory = name == ":memory:" or name.startswith("file::memory:") or "mode=memory" in name
        self._gate = None if in_memory else gate_for(os.path.realpath(name))
        self._gate_timeout = float(kwargs.get("timeout", BUSY_TIMEOUT_SECONDS))
        self._writing: weakref.finalize[Any, Any] | None = None  # the turn, given back even if never closed

    def cursor(self, factory: Any = GatedCursor) -> Any:
        opened = super().cursor(factory)
        self._cursors.add(opened)
        return opened

    # The C shortcuts would run the statement without the cursor's checks.
    def execute(self, sql: str, parameters: Any = (), /) -> GatedCursor:
        cursor: GatedCursor = self.cursor()
        return cursor.execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> GatedCursor:
        cursor: GatedCursor = self.cursor()
        return cursor.executemany(sql, seq_of_parameters)

    def take_write_turn(self) -> None:
        if self._writing is not None or self._gate is None:
            return
        if not self._gate.acquire(self._gate_timeout):
            raise sqlite3.OperationalError("database is locked")
        self._writing = weakref.finalize(self, self._gate.release)

    def statement_done(self, cursor: sqlite3.Cursor, *, exhausted: bool = False) -> None:
        """Without a transaction (autocommit), a write ends with its statement: once it returns no rows,
        or once its rows are read."""
        if (
            self._writing is not None
            and self.isolation_level is None
            and (exhausted or cursor.description is None)
        ):
            self._end_write_turn()

    def statement_failed(self) -> None:
        """A failed statement wrote nothing; without an open transaction, the turn is over."""
        if self.isolation_level is None or not self.in_transaction:
            self._end_write_turn()

    @property  # type: ignore[override]
    def isolation_level(self) -> str | None:
        level: str | None = _ISOLATION_LEVEL.__get__(self)
        return level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        # Switching to autocommit commits an open transaction without going through commit().
        _ISOLATION_LEVEL.__set__(self, value)
        if not self.in_transaction:
            self._end_write_turn()

    def _end_write_turn(self) -> None:
        turn, self._writing = self._writing, None
        if turn is not None:
            turn()  # gives the gate back (a finalizer runs at most once)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._end_write_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._end_write_turn()

    def close(self) -> None:
        try:
            for opened in list(self._cursors):
                try:
                    opened.close()
                except sqlite3.Error:
                    continue  # the connection is going away anyway: close what can be closed
            super().close()
        finally:
            self._end_write_turn()
