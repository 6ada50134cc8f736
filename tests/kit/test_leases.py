"""Database leases: one holder at a time, even two jobs of one process; expiry frees a dead holder's row;
the row is read as the lease is taken and written as it is given back."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Integer, String, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from rakuten_connector.connections.models import Connection
from rakuten_connector.kit import leases
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.columns import UTCDateTime
from tests.factories import add_connection
from tests.waiting import wait_until

TTL = timedelta(seconds=30)
PLAIN = leases.Lease(Connection)


async def _lease(sessions: async_sessionmaker[AsyncSession], row: str) -> tuple[str | None, datetime | None]:
    async with sessions() as session:
        found = (
            await session.execute(
                select(Connection.lease_owner, Connection.lease_until).where(Connection.id == row)
            )
        ).one()
    return found[0], found[1]


class _Base(DeclarativeBase):
    pass


class _Leased(leases.LeaseColumns, _Base):
    __tablename__ = "leased"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)


def test_the_lease_columns_come_after_the_models_own_and_may_be_null() -> None:
    table = _Leased.__table__
    assert [column.name for column in table.columns] == ["id", "lease_owner", "lease_until"]
    owner, until = table.c.lease_owner, table.c.lease_until
    assert isinstance(owner.type, String)
    assert owner.type.length == leases.LEASE_OWNER_MAX
    assert isinstance(until.type, UTCDateTime)
    assert owner.nullable
    assert until.nullable


def test_a_holds_token_fits_the_owner_column(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leases.socket, "gethostname", lambda: "h" * 255)
    monkeypatch.setattr(leases.os, "getpid", lambda: 4_194_304)  # Linux's largest pid
    assert len(f"{leases.new_owner()}:{'f' * 12}") <= leases.LEASE_OWNER_MAX


async def test_two_holds_of_one_process_exclude_each_other(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    row = await add_connection(sessions)
    owner = leases.new_owner()
    async with (
        leases.held(engine, Connection, row, owner, TTL) as first,
        leases.held(engine, Connection, row, owner, TTL) as second,
    ):
        assert first is not None
        assert second is None
    async with leases.held(engine, Connection, row, owner, TTL) as again:
        assert again is not None  # released on exit
    assert await _lease(sessions, row) == (None, None)


async def test_racing_holders_only_one_wins(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    row = await add_connection(sessions)
    wins = 0
    gate = asyncio.Event()

    async def contender() -> None:
        nonlocal wins
        async with leases.held(engine, Connection, row, leases.new_owner(), TTL) as mine:
            if mine:
                wins += 1
                await gate.wait()

    tasks = [asyncio.create_task(contender()) for _ in range(6)]
    await asyncio.sleep(0.5)
    gate.set()
    await asyncio.gather(*tasks)
    assert wins == 1


async def test_an_expired_lease_is_taken_over(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    row = await add_connection(sessions)
    assert await PLAIN.acquire(engine, row, "dead-worker", TTL)
    assert not await PLAIN.acquire(engine, row, "other", TTL)
    async with sessions() as session:
        await session.execute(update(Connection).values(lease_until=utcnow() - timedelta(seconds=1)))
        await session.commit()
    assert await PLAIN.acquire(engine, row, "other", TTL)
    assert not await PLAIN.release(engine, row, "dead-worker")  # not the holder: no effect
    assert not await PLAIN.acquire(engine, row, "third", TTL)


async def test_conditions_and_columns_are_read_with_the_lease(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    row = await add_connection(sessions)
    c = Connection.__table__.c
    paused = leases.Lease(Connection, when=[c.paused.is_(True)])
    async with paused.held(engine, row, "w", TTL) as hold:
        assert hold is None  # the row does not meet the condition: not taken
    assert await _lease(sessions, row) == (None, None)
    since = leases.Lease(
        Connection,
        when=[c.paused.is_(False), c.created_at <= leases.NOW],
        columns=[c.seller_id, (c.id == leases.ROW).label("same_row")],
    )
    async with since.held(engine, row, "w", TTL) as hold:
        assert hold is not None
        assert hold.row.seller_id == "s"
        assert hold.row.same_row
        owner, until = await _lease(sessions, row)
        assert owner == hold.token
        assert until is not None


async def test_release_writes_values_once_and_only_while_held(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    row = await add_connection(sessions)
    async with leases.held(engine, Connection, row, "w", TTL) as hold:
        assert hold is not None
        assert await hold.release(last_import_error="first")
        assert not await hold.release(last_import_error="second")  # already released: nothing written
        assert await _lease(sessions, row) == (None, None)
    async with sessions() as session:
        assert await session.scalar(select(Connection.last_import_error)) == "first"

    async with leases.held(engine, Connection, row, "w", TTL) as hold:
        assert hold is not None
        async with sessions() as session:  # the lease expired and another worker took it
            await session.execute(update(Connection).values(lease_owner="other", lease_until=utcnow() + TTL))
            await session.commit()
        assert not await hold.release(last_import_error="stale")
    async with sessions() as session:
        assert await session.scalar(select(Connection.last_import_error)) == "first"
    assert (await _lease(sessions, row))[0] == "other"


async def test_renewal_stops_before_the_release(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    row = await add_connection(sessions)
    short = timedelta(seconds=0.3)  # renewed every 0.1 s
    async with leases.held(engine, Connection, row, "w", short) as hold:
        assert hold is not None
        await asyncio.sleep(0.45)
        owner, until = await _lease(sessions, row)
        assert owner == hold.token
        assert until is not None
        assert until > utcnow()
        await hold.release()
        await asyncio.sleep(0.3)  # a renewal still running would take the lease again
        assert await _lease(sessions, row) == (None, None)


async def _steal(sessions: async_sessionmaker[AsyncSession], row: str) -> None:
    """Another worker takes the lease over (as after an expiry nobody could renew)."""
    async with sessions() as session:
        await session.execute(
            update(Connection).where(Connection.id == row).values(lease_owner="other", lease_until=utcnow() + TTL)
        )
        await session.commit()


async def test_a_takeover_is_noticed_at_the_next_renewal_and_stops_the_holder(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    row = await add_connection(sessions)
    other = await add_connection(sessions, seller_key="other")
    guarded = async_sessionmaker(engine, class_=leases.GuardedSession, expire_on_commit=False)
    async with leases.held(engine, Connection, row, "w", timedelta(seconds=3)) as hold:
        assert hold is not None
        assert leases.current() == (hold,)
        hold.check()  # ours: nothing raised
        await _steal(sessions, row)
        await wait_until(lambda: hold.lost, what="the takeover to be noticed")  # renewals every second
        with pytest.raises(leases.LeaseLost):
            hold.check()
        with pytest.raises(leases.LeaseLost):
            await asyncio.create_task(_rename(guarded, row))  # a task it starts works under it too
        with pytest.raises(leases.LeaseLost):  # no lease is taken on behalf of a lost one
            async with leases.held(engine, Connection, other, "w", TTL):
                pass
        assert (await _lease(sessions, other))[0] is None
        assert not await hold.release(last_import_error="stale")
    assert leases.current() == ()
    assert (await _lease(sessions, row))[0] == "other"
    async with sessions() as session:
        connection = await session.get_one(Connection, row)
        assert (connection.name, connection.last_import_error) == ("n", None)  # nothing written


async def _rename(sessions: async_sessionmaker[AsyncSession], row: str) -> None:
    async with sessions() as session:
        connection = await session.get_one(Connection, row)
        connection.name = "written blind"
        await session.commit()


async def test_renewals_that_fail_are_retried_and_lose_the_lease_only_past_its_expiry(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    row = await add_connection(sessions)
    lease = leases.Lease(Connection)
    failures: list[datetime] = []

    async def database_away(*_: object) -> datetime | None:
        failures.append(utcnow())
        raise OperationalError("UPDATE connections", {}, ConnectionRefusedError("connection refused"))

    async with lease.held(engine, row, "w", timedelta(seconds=3)) as hold:
        assert hold is not None
        expiry = hold.until
        monkeypatch.setattr(lease, "renew", database_away)
        await wait_until(lambda: len(failures) >= 2, what="a renewal retried after it failed")
        if utcnow() < expiry - timedelta(seconds=0.5):  # a loaded machine may be late: only then is it too soon
            assert not hold.lost
            hold.check()
        await wait_until(lambda: hold.lost, what="the lease to be lost once expired")
        assert utcnow() >= expiry
        assert failures[1] - failures[0] < timedelta(seconds=1)  # retried sooner than the renewal period
        with pytest.raises(leases.LeaseLost):
            hold.check()


async def test_a_stalled_event_loop_loses_nothing_before_the_expiry(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    row = await add_connection(sessions)
    async with leases.held(engine, Connection, row, "w", timedelta(seconds=6)) as hold:
        assert hold is not None
        first = hold.until
        time.sleep(3)  # noqa: ASYNC251 - the loop is stuck past a renewal (due every 2 s), not past the expiry
        hold.check()
        await wait_until(lambda: hold.until > first, what="the renewal after the stall")
        assert not hold.lost
        owner, until = await _lease(sessions, row)
        assert (owner, until) == (hold.token, hold.until)


async def test_a_batch_takes_the_free_rows_renews_them_together_and_gives_them_back(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    rows = [await add_connection(sessions, seller_key=f"s{n}") for n in range(4)]
    async with leases.held(engine, Connection, rows[1], "other-job", TTL) as busy:
        assert busy is not None
        async with leases.held_each(engine, Connection, rows, "w", timedelta(seconds=3)) as hold:
            assert hold is not None
            assert sorted(hold.row_ids) == sorted([rows[0], rows[2], rows[3]])  # the busy one is left out
            assert leases.current() == (busy, hold)
            first_until = hold.until
            await wait_until(lambda: hold.until > first_until, what="a renewal")  # every second
            owners = {row: (await _lease(sessions, row))[0] for row in rows}
            assert owners[rows[1]] != hold.token
            assert all(owners[row] == hold.token for row in hold.row_ids)
        assert leases.current() == (busy,)
        assert [(await _lease(sessions, row))[0] for row in (rows[0], rows[2], rows[3])] == [None, None, None]
        async with leases.held_each(engine, Connection, [rows[1]], "w", TTL) as none:
            assert none is None  # nothing free: nothing held
    async with leases.held_each(engine, Connection, rows, "w", TTL) as hold:
        assert hold is not None
        with pytest.raises(ValueError, match="without values"):
            await hold.release(last_import_error="x")
    assert [(await _lease(sessions, row))[0] for row in rows] == [None] * 4  # given back all the same


async def test_a_batch_loses_its_hold_when_one_of_its_rows_is_taken_over(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    rows = [await add_connection(sessions, seller_key=f"s{n}") for n in range(3)]
    async with leases.held_each(engine, Connection, rows, "w", timedelta(seconds=3)) as hold:
        assert hold is not None
        await _steal(sessions, rows[2])
        await wait_until(lambda: hold.lost, what="the takeover to be noticed")
        with pytest.raises(leases.LeaseLost):
            hold.check()
    assert [(await _lease(sessions, row))[0] for row in rows] == [None, None, "other"]
