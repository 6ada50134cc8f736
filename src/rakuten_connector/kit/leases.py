"""Short database leases: "one worker at a time" for a row, on SQLite and PostgreSQL alike.

A lease is taken with one conditional UPDATE (free, expired, or already ours), so two workers racing
for it cannot both win; it expires by itself if its holder dies (SIGKILL), so nothing stays locked.
Taking a lease can also check conditions on the row and read it (RETURNING), and giving it back can
write the outcome in the same statement: a job that finds nothing to do costs two single-statement
round trips. The statements are built once per kind of lease, so each use only binds its values.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Row, Table, Update, bindparam, or_, update
from sqlalchemy.ext.asyncio import AsyncEngine

from rakuten_connector.db import UTCDateTime
from rakuten_connector.kit.clock import utcnow

# What the conditions and columns of a Lease may refer to: the leased row's id, the time it is taken.
ROW: BindParameter[str] = bindparam("lease_row")
NOW: BindParameter[Any] = bindparam("lease_now", type_=UTCDateTime())
_TOKEN: BindParameter[str] = bindparam("lease_token")
_UNTIL: BindParameter[Any] = bindparam("lease_until_value", type_=UTCDateTime())


def new_owner() -> str:
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


_AUTOCOMMIT: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()


def _autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The engine's pool, each statement its own transaction: no BEGIN/COMMIT round trips around it."""
    found = _AUTOCOMMIT.get(engine)
    if found is None:
        found = _AUTOCOMMIT[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return found


def _lease_params(row_id: str, token: str, ttl: timedelta) -> dict[str, Any]:
    now = utcnow()
    return {"lease_row": row_id, "lease_now": now, "lease_token": token, "lease_until_value": now + ttl}


class Lease:
    """How rows of one table are leased: under which conditions, reading which columns."""

    def __init__(
        self, model: Any, *, when: Sequence[ColumnElement[bool]] = (), columns: Sequence[Any] = ()
    ) -> None:
        self.table: Table = model.__table__
        c = self.table.c
        ours_or_free = or_(c.lease_until.is_(None), c.lease_until < NOW, c.lease_owner == _TOKEN)
        take = update(self.table).where(c.id == ROW, ours_or_free).values(lease_owner=_TOKEN, lease_until=_UNTIL)
        self._take = take.where(*when).returning(c.id, *columns)
        self._renew = take  # while held, the conditions no longer matter (a pause lets the run finish)
        self._releases: dict[tuple[str, ...], Update] = {}

    async def _execute(self, engine: AsyncEngine, statement: Update, params: dict[str, Any]) -> Any:
        async with _autocommit(engine).connect() as connection:
            return await connection.execute(statement, params)

    async def acquire(self, engine: AsyncEngine, row_id: str, token: str, ttl: timedelta) -> Row[Any] | None:
        """Take the lease if the row meets the conditions; returns the columns, or None."""
        row: Row[Any] | None = (await self._execute(engine, self._take, _lease_params(row_id, token, ttl))).first()
        return row

    async def renew(self, engine: AsyncEngine, row_id: str, token: str, ttl: timedelta) -> None:
        await self._execute(engine, self._renew, _lease_params(row_id, token, ttl))

    async def release(self, engine: AsyncEngine, row_id: str, token: str, **values: Any) -> bool:
        """Free the lease, writing `values` on the row in the same UPDATE; False if `token` no longer held it."""
        keys = tuple(sorted(values))
        statement = self._releases.get(keys)
        if statement is None:
            c = self.table.c
            statement = self._releases[keys] = (
                update(self.table)
                .where(c.id == ROW, c.lease_owner == _TOKEN)
                .values(
                    lease_owner=None,
                    lease_until=None,
                    **{key: bindparam(f"set_{key}", type_=c[key].type) for key in keys},
                )
            )
        params = {"lease_row": row_id, "lease_token": token} | {f"set_{key}": values[key] for key in keys}
        result = await self._execute(engine, statement, params)
        return bool(result.rowcount == 1)

    @asynccontextmanager
    async def held(
        self, engine: AsyncEngine, row_id: str, owner: str, ttl: timedelta
    ) -> AsyncIterator[Hold | None]:
        """Take the lease (yields None when someone else holds it or the row does not meet the conditions),
        renew it while the block runs, release it at the end unless the block did.

        Each hold has its own token: two jobs of one worker process exclude each other like two workers do.
        """
        token = f"{owner}:{uuid.uuid4().hex[:12]}"
        row = await self.acquire(engine, row_id, token, ttl)
        if row is None:
            yield None
            return
        hold = Hold(self, engine, row_id, token, row)

        async def renew() -> None:
            while not await hold.stopping(ttl.total_seconds() / 3):
                await self.renew(engine, row_id, token, ttl)

        hold._renewer = asyncio.create_task(renew())
        try:
            yield hold
        finally:
            await hold.release()


@dataclass(eq=False)
class Hold:
    """A lease held on one row: the columns read as it was taken, and its release (at most once)."""

    lease: Lease
    engine: AsyncEngine
    row_id: str
    token: str
    row: Row[Any]
    _renewer: asyncio.Task[None] | None = field(default=None, repr=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _released: bool = False

    async def stopping(self, seconds: float) -> bool:
        """Wait up to `seconds`; True once the release has begun."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    async def release(self, **values: Any) -> bool:
        """Stop renewing, then free the lease writing `values` in the same statement (skipped if the
        lease was lost meanwhile). The second and later calls do nothing and return False."""
        if self._released:
            return False
        self._released = True
        # The renewer is stopped first (a renewal after the release would take the lease again), and told
        # rather than cancelled: cancelling it in the middle of its UPDATE would leave that connection's
        # statement half done.
        self._stop.set()
        if self._renewer is not None:
            await self._renewer
        return await self.lease.release(self.engine, self.row_id, self.token, **values)


_PLAIN: dict[Any, Lease] = {}


def held(
    engine: AsyncEngine, model: Any, row_id: str, owner: str, ttl: timedelta
) -> contextlib.AbstractAsyncContextManager[Hold | None]:
    """The lease of a row of `model`, without conditions or columns (see Lease.held)."""
    lease = _PLAIN.get(model)
    if lease is None:
        lease = _PLAIN[model] = Lease(model)
    return lease.held(engine, row_id, owner, ttl)
