"""Short database leases: "one worker at a time" for a row, on SQLite and PostgreSQL alike.

A lease is taken with one conditional UPDATE (free, expired, or already ours), so two workers racing
for it cannot both win; it expires by itself if its holder dies (SIGKILL), so nothing stays locked.
Taking a lease can also check conditions on the row and read it (RETURNING), and giving it back can
write the outcome in the same statement: a job that finds nothing to do costs two single-statement
round trips. Several rows can be held as one (`held_each`: the free ones among them, taken, renewed and
given back by one statement each). The statements are built once per kind of lease, so each use only
binds its values.

A holder knows when its lease is lost. Renewals are conditional on still owning it (`WHERE lease_owner =
our token`), and a hold is lost, for good, as soon as a renewal finds another owner, or our expiry has
passed by the clock the lease compares against (`utcnow()`, as `lease_until < now` in every statement)
without a renewal we could confirm. A slow event loop alone loses nothing: a stall shorter than the
lease only delays a renewal. While a lease is held, its hold is "current" in the task's context (and in
the tasks it starts): `check_current()` raises `LeaseLost` if any of them is lost, and the worker's
HTTP pools and sessions call it before every upstream request and every commit, so a worker whose lease
was taken over stops instead of finishing the work blind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import BindParameter, ColumnElement, Row, String, Table, Update, bindparam, or_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.columns import UTCDateTime

# What the conditions and columns of a Lease may refer to: the leased row's id, the time it is taken.
ROW: BindParameter[str] = bindparam("lease_row")
_ROWS: BindParameter[list[str]] = bindparam("lease_rows", expanding=True)
NOW: BindParameter[Any] = bindparam("lease_now", type_=UTCDateTime())
_TOKEN: BindParameter[str] = bindparam("lease_token")
_UNTIL: BindParameter[Any] = bindparam("lease_until_value", type_=UTCDateTime())

log = structlog.get_logger(__name__)

# The width of `lease_owner`: a hold's token (`new_owner()` and 13 characters more) fits in it.
LEASE_OWNER_MAX = 64


class LeaseColumns:
    """The columns a leased table has (a declarative mixin: they come after the model's own): who holds the
    row's lease, and until when. Both None while it is free."""

    lease_owner: Mapped[str | None] = mapped_column(String(LEASE_OWNER_MAX), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class LeaseLost(Exception):
    """Another worker holds the lease now, or it expired without a renewal: stop, the work is not ours."""


_CURRENT: ContextVar[tuple[Hold, ...]] = ContextVar("leases_held", default=())
# Told the table's name each time a hold finds its lease lost: another worker took the row over, or the
# lease expired unrenewed and is free for one (the metrics count them).
LOST_OBSERVERS: list[Callable[[str], None]] = []


def current() -> tuple[Hold, ...]:
    """The holds the running task (or the task that started it) is working under."""
    return _CURRENT.get()


def check_current() -> None:
    """Raise LeaseLost if a lease the running task works under is lost; no I/O."""
    for hold in _CURRENT.get():
        hold.check()


async def check_request(_: httpx.Request) -> None:
    """An httpx request hook: no upstream call is made on behalf of a lost lease."""
    check_current()


class GuardedSession(AsyncSession):
    """A session that commits nothing on behalf of a lost lease (see check_current)."""

    async def commit(self) -> None:
        check_current()
        await super().commit()


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
        # Several rows at once, each taken if free: one statement for a batch (no columns read).
        self._take_each = (
            update(self.table)
            .where(c.id.in_(_ROWS), ours_or_free, *when)
            .values(lease_owner=_TOKEN, lease_until=_UNTIL)
            .returning(c.id)
        )
        # Only while still ours; the conditions no longer matter (a pause lets the run finish). A lease
        # still ours after its expiry was taken by nobody meanwhile: taking it would have changed the owner.
        ours = (c.id.in_(_ROWS), c.lease_owner == _TOKEN)
        self._renew = update(self.table).where(*ours).values(lease_until=_UNTIL)
        self._release_each = update(self.table).where(*ours).values(lease_owner=None, lease_until=None)
        self._releases: dict[tuple[str, ...], Update] = {}

    async def _execute(self, engine: AsyncEngine, statement: Update, params: dict[str, Any]) -> Any:
        async with _autocommit(engine).connect() as connection:
            return await connection.execute(statement, params)

    async def acquire(self, engine: AsyncEngine, row_id: str, token: str, ttl: timedelta) -> Row[Any] | None:
        """Take the lease if the row meets the conditions; returns the columns, or None."""
        row, _ = await self._take_lease(engine, row_id, token, ttl)
        return row

    async def _take_lease(
        self, engine: AsyncEngine, row_id: str, token: str, ttl: timedelta
    ) -> tuple[Row[Any] | None, datetime]:
        """The columns (None if not taken) and the expiry written if taken."""
        params = _lease_params(row_id, token, ttl)
        row: Row[Any] | None = (await self._execute(engine, self._take, params)).first()
        return row, params["lease_until_value"]

    async def renew(
        self, engine: AsyncEngine, row_ids: Sequence[str], token: str, ttl: timedelta
    ) -> datetime | None:
        """Extend the leases of `row_ids` if `token` still holds every one: returns their new expiry, or
        None if one of them is not ours any more."""
        params = {"lease_rows": list(row_ids)} | _lease_params("", token, ttl)
        result = await self._execute(engine, self._renew, params)
        until: datetime = params["lease_until_value"]
        return until if result.rowcount == len(row_ids) else None

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

    async def release_each(self, engine: AsyncEngine, row_ids: Sequence[str], token: str) -> int:
        """Free the leases `token` still holds among `row_ids`; returns how many it freed."""
        result = await self._execute(
            engine, self._release_each, {"lease_rows": list(row_ids), "lease_token": token}
        )
        return int(result.rowcount)

    @asynccontextmanager
    async def held(
        self, engine: AsyncEngine, row_id: str, owner: str, ttl: timedelta
    ) -> AsyncIterator[Hold | None]:
        """Take the lease (yields None when someone else holds it or the row does not meet the conditions),
        renew it while the block runs, release it at the end unless the block did.

        Each hold has its own token: two jobs of one worker process exclude each other like two workers do.
        No lease is taken on behalf of a lost one (LeaseLost): an import whose lease was taken over starts
        no order.
        """
        check_current()
        token = f"{owner}:{uuid.uuid4().hex[:12]}"
        row, until = await self._take_lease(engine, row_id, token, ttl)
        if row is None:
            yield None
            return
        async with Hold(self, engine, (row_id,), token, row, ttl, until) as hold:
            yield hold

    @asynccontextmanager
    async def held_each(
        self, engine: AsyncEngine, row_ids: Sequence[str], owner: str, ttl: timedelta
    ) -> AsyncIterator[Hold | None]:
        """The leases of those of `row_ids` that are free (and meet the conditions), taken, renewed and
        released together in one statement each: a batch costs what one row does. Yields None when none
        could be taken; `hold.row_ids` are the rows taken. Losing one of them loses the hold."""
        check_current()
        token = f"{owner}:{uuid.uuid4().hex[:12]}"
        params = {"lease_rows": list(row_ids)} | _lease_params("", token, ttl)
        rows = (await self._execute(engine, self._take_each, params)).all()
        if not rows:
            yield None
            return
        taken = tuple(row.id for row in rows)
        async with Hold(self, engine, taken, token, rows[0], ttl, params["lease_until_value"]) as hold:
            yield hold


@dataclass(eq=False)
class Hold:
    """A lease held on one row: the columns read as it was taken, whether it is lost, and its release
    (at most once)."""

    lease: Lease
    engine: AsyncEngine
    row_ids: tuple[str, ...]
    token: str
    row: Row[Any]  # the columns read as the lease was taken (of a batch: the first row's id)
    ttl: timedelta
    until: datetime  # the expiry last written (by the clock of the statements), hence known to be ours
    # True for good once the lease is not ours any more: another owner, or expired without a renewal.
    lost: bool = False
    _renewer: asyncio.Task[None] | None = field(default=None, repr=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _released: bool = False
    _held_before: Any = field(default=None, repr=False)

    @property
    def row_id(self) -> str:
        """The leased row (the first one of a batch)."""
        return self.row_ids[0]

    async def __aenter__(self) -> Hold:
        """Renew while the block runs, as the running task's (and its tasks') current hold."""
        self._renewer = asyncio.create_task(self._keep())
        self._held_before = _CURRENT.set((*_CURRENT.get(), self))
        return self

    async def __aexit__(self, *_: object) -> None:
        _CURRENT.reset(self._held_before)
        await self.release()

    def check(self) -> None:
        """Raise LeaseLost unless the lease is still ours; call before each upstream call or write."""
        if not self.lost and utcnow() >= self.until:
            self._lose("expired before it could be renewed")
        if self.lost:
            raise LeaseLost(self.row_id)

    def _lose(self, why: str) -> None:
        if not self.lost:
            log.warning(
                "lease_lost", table=self.lease.table.name, row_id=self.row_id, rows=len(self.row_ids), why=why
            )
            self.lost = True
            for observer in LOST_OBSERVERS:
                observer(self.lease.table.name)

    async def stopping(self, seconds: float) -> bool:
        """Wait up to `seconds`; True once the release has begun."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):  # not wait_for, which can swallow a cancellation on 3.11
                await self._stop.wait()
        return self._stop.is_set()

    async def _keep(self) -> None:
        """Renew every third of the lease until the release, or until the lease is lost. A renewal that
        fails (the database away) is tried again sooner; past the expiry, the lease is lost."""
        period = self.ttl.total_seconds() / 3
        delay = period
        while not await self.stopping(delay):
            if utcnow() >= self.until:
                self._lose("expired before it could be renewed")
                return
            try:
                until = await self.lease.renew(self.engine, self.row_ids, self.token, self.ttl)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("lease_renewal_failed", row_id=self.row_id, error=type(exc).__name__)
                delay = period / 4
                continue
            if until is None:
                self._lose("another worker holds it")
                return
            self.until, delay = until, period

    async def release(self, **values: Any) -> bool:
        """Stop renewing, then free the lease writing `values` in the same statement (skipped if the
        lease was lost meanwhile; a batch's rows take no values). The second and later calls do nothing
        and return False."""
        if values and len(self.row_ids) > 1:
            raise ValueError("a batch's leases are released without values")
        if self._released:
            return False
        self._released = True
        # The renewer is stopped first (a renewal after the release would find the lease not ours), and
        # told rather than cancelled: cancelling it in the middle of its UPDATE would leave that
        # connection's statement half done.
        self._stop.set()
        if self._renewer is not None:
            await self._renewer
        if len(self.row_ids) > 1:
            return await self.lease.release_each(self.engine, self.row_ids, self.token) == len(self.row_ids)
        return await self.lease.release(self.engine, self.row_id, self.token, **values)


_PLAIN: dict[Any, Lease] = {}


def held(
    engine: AsyncEngine, model: Any, row_id: str, owner: str, ttl: timedelta
) -> contextlib.AbstractAsyncContextManager[Hold | None]:
    """The lease of a row of `model`, without conditions or columns (see Lease.held)."""
    return _plain(model).held(engine, row_id, owner, ttl)


def held_each(
    engine: AsyncEngine, model: Any, row_ids: Sequence[str], owner: str, ttl: timedelta
) -> contextlib.AbstractAsyncContextManager[Hold | None]:
    """The leases of those rows of `model` that are free, as one hold (see Lease.held_each)."""
    return _plain(model).held_each(engine, row_ids, owner, ttl)


def _plain(model: Any) -> Lease:
    lease = _PLAIN.get(model)
    if lease is None:
        lease = _PLAIN[model] = Lease(model)
    return lease
