"""Coalesced stock pushes end to end: signed `stock.updated` webhooks at the API, a worker, the Rakuten
sandbox processing the files and answering the import reports."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.settings import Settings
from rakuten_connector.stock.models import StockFile, StockState
from tests.e2e.world import World, wait_for, world
from tests.stock.helpers import (
    connect,
    rakuten_stock,
    send_event,
    send_events,
    set_rakuten_inventory,
    stock_items,
    stock_settings,
    uploads,
    wait_events_handled,
    wait_pushed,
    wait_sync,
)

pytestmark = pytest.mark.usefixtures("sessions")


async def test_a_burst_of_1000_events_on_100_skus_goes_out_in_at_most_two_files(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # A real interval (an hour): the first file leaves at once, everything else waits for the next one,
    # however long the burst takes; then the test moves the first file an hour back in time.
    async with world(stock_settings(settings, stock_push_min_interval_seconds=3600)) as w:
        skus = [f"SKU-{n:03d}" for n in range(100)]
        await set_rakuten_inventory(w, dict.fromkeys(skus, 0))
        _, secret = await connect(w)
        rng = random.Random(6)
        start = utcnow() - timedelta(minutes=5)
        events = [(sku, rng.randint(0, 50), start + timedelta(seconds=step)) for sku in skus for step in range(10)]
        latest = {sku: n for sku, n, _ in sorted(events, key=lambda e: e[2])}
        rng.shuffle(events)  # delivered in any order: the newest timestamp wins, not the last delivery
        await send_events(w, secret, events)
        await wait_events_handled(sessions)

        async def next_file_planned_after_the_interval() -> bool:
            # The run that read the first report also plans the next file; moving time before that run
            # ends would be overwritten by its plan.
            async with sessions() as session:
                statuses = (await session.scalars(select(StockFile.status))).all()
                planned = await session.scalar(select(StockState.next_run_at))
            settled = planned is None or planned > utcnow() + timedelta(minutes=30)  # idle, or waiting the hour
            return statuses == ["processed"] and settled

        await wait_for(next_file_planned_after_the_interval, what="the first file processed, the next one planned")
        async with sessions() as session:
            for file in (await session.scalars(select(StockFile))).all():
                file.created_at -= timedelta(hours=1)
            await session.commit()

        async def an_hour_later() -> bool:
            # Until the second file exists, the plan must say "now": a run that was already planning when
            # the time moved (two runs of one connection may overlap) writes its older plan over it.
            async with sessions() as session:
                files = await session.scalar(select(func.count()).select_from(StockFile))
                if files == 1:
                    await session.execute(
                        update(StockState)
                        .where(StockState.next_run_at > utcnow() + timedelta(minutes=30))
                        .values(next_run_at=utcnow())
                    )
                    await session.commit()
            return bool(files and files > 1) or await rakuten_stock(w) == latest

        await wait_for(an_hour_later, what="the second file, an hour after the first")
        await wait_pushed(w, latest)
        assert len(await uploads(w)) <= 2
        assert await rakuten_stock(w) == latest

        # An event older than what is known changes nothing.
        files_before = len(await uploads(w))
        await send_event(w, secret, "SKU-000", latest["SKU-000"] + 7, start - timedelta(seconds=1))
        await wait_events_handled(sessions)
        item = (await stock_items(w, sku="SKU-000"))["SKU-000"]
        assert (item["wanted_quantity"], item["status"]) == (latest["SKU-000"], "pushed")
        assert len(await uploads(w)) == files_before
        assert (await rakuten_stock(w))["SKU-000"] == latest["SKU-000"]


async def test_nothing_is_pushed_while_stock_update_is_off_and_current_quantities_go_when_back_on(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(stock_settings(settings)) as w:
        await set_rakuten_inventory(w, {"A": 1, "B": 1, "C": 1})
        connection_id, secret = await connect(w, stock_sync_enabled=False)
        now = utcnow()
        await send_events(w, secret, [("A", 5, now), ("B", 6, now), ("A", 7, now + timedelta(seconds=1))])
        await wait_events_handled(sessions)
        items = await stock_items(w)
        assert {sku: (i["wanted_quantity"], i["status"]) for sku, i in items.items()} == {
            "A": (7, "pending"),
            "B": (6, "pending"),
        }
        assert await uploads(w) == []
        # A sync is refused too while stock update is off.
        refused = await w.api.post(f"/v1/connections/{connection_id}/stock-syncs", headers=w.headers)
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "stock_sync_disabled")

        answer = await w.api.patch(
            f"/v1/connections/{connection_id}", json={"stock_sync_enabled": True}, headers=w.headers
        )
        assert answer.status_code == 200, answer.text
        await wait_pushed(w, {"A": 7, "B": 6})
        assert (await rakuten_stock(w))["C"] == 1

        # Paused: changes wait; resumed: the current quantities are pushed again.
        await w.api.patch(f"/v1/connections/{connection_id}", json={"paused": True}, headers=w.headers)
        await send_event(w, secret, "B", 2, now + timedelta(seconds=5))
        await wait_events_handled(sessions)
        files = len(await uploads(w))
        assert (await stock_items(w))["B"]["status"] == "pending"
        assert (await rakuten_stock(w))["B"] == 6
        await w.api.patch(f"/v1/connections/{connection_id}", json={"paused": False}, headers=w.headers)
        await wait_pushed(w, {"A": 7, "B": 2})
        last = (await uploads(w))[-1]
        assert len(await uploads(w)) == files + 1
        assert {line["sku"]: line["qty"] for line in last["lines"]} == {"A": "7", "B": "2"}


async def test_a_sku_without_rakuten_offer_is_reported_unknown_on_rakuten_and_the_others_are_pushed(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(stock_settings(settings)) as w:
        await set_rakuten_inventory(w, {"A": 1, "B": 1})
        connection_id, secret = await connect(w, cubyn_products={"A": 5, "B": 4, "GHOST": 9})
        now = utcnow()
        await send_events(w, secret, [("A", 3, now), ("B", 4, now), ("GHOST", 9, now)])
        await wait_pushed(w, {"A": 3, "B": 4})

        async def refused() -> bool:
            return (await stock_items(w))["GHOST"]["status"] == "unknown_on_rakuten"

        await wait_for(refused, what="GHOST unknown on Rakuten")
        ghost = await stock_items(w, status="unknown_on_rakuten")
        assert list(ghost) == ["GHOST"]
        assert ghost["GHOST"]["reason"].startswith("Unknown on Rakuten")
        assert ghost["GHOST"]["pushed_quantity"] is None
        assert set(await stock_items(w, status="pushed")) == {"A", "B"}

        # Not pushed again until its quantity changes.
        files = len(await uploads(w))
        await send_event(w, secret, "A", 5, now + timedelta(seconds=1))
        await wait_pushed(w, {"A": 5})
        assert [line["sku"] for line in (await uploads(w))[-1]["lines"]] == ["A"]
        assert len(await uploads(w)) == files + 1
        async with sessions() as session:
            statuses = (await session.scalars(select(StockFile.status).order_by(StockFile.created_at))).all()
        assert statuses == ["processed", "processed"]

        # Once the shop lists it on Rakuten, a full sync finds it there and pushes it.
        await set_rakuten_inventory(w, {"A": 5, "B": 4, "GHOST": 0})
        answer = await w.api.post(f"/v1/connections/{connection_id}/stock-syncs", headers=w.headers)
        result = await wait_sync(w, answer.json()["id"])
        assert (result["status"], result["progress"]["updated"]) == ("succeeded", 1)
        await wait_pushed(w, {"A": 5, "B": 4, "GHOST": 9})
        assert (await stock_items(w))["GHOST"]["reason"] is None


async def _file_statuses(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list((await session.scalars(select(StockFile.status).order_by(StockFile.created_at))).all())


async def _wake_stock(sessions: async_sessionmaker[AsyncSession], **file_changes: object) -> None:
    async with sessions() as session:
        if file_changes:
            await session.execute(update(StockFile).values(**file_changes))
        await session.execute(update(StockState).values(next_run_at=utcnow()))
        await session.commit()


async def _a_file_in_doubt(w: World, sessions: async_sessionmaker[AsyncSession]) -> str:
    """SKU-1 = 5 sent in a file Rakuten takes but does not process, past its report timeout; returns the
    webhook secret."""
    await set_rakuten_inventory(w, {"SKU-1": 0})
    _, secret = await connect(w)
    assert (await w.rakuten.put("/_sandbox/settings", json={"upload_delay_seconds": 86400})).status_code == 200
    await send_event(w, secret, "SKU-1", 5, utcnow() - timedelta(seconds=30))
    await wait_for(lambda: _is(sessions, ["uploaded"]), what="the first file uploaded")
    await _wake_stock(sessions, uploaded_at=utcnow() - timedelta(hours=3), next_poll_at=None)
    await wait_for(lambda: _is(sessions, ["in_doubt"]), what="the file past its report timeout to be in doubt")
    return secret


async def _newer_quantity_stays_while_in_doubt(
    w: World, sessions: async_sessionmaker[AsyncSession], secret: str
) -> None:
    """SKU-1 = 3 arrives after the file in doubt: several stock runs later, nothing more has been sent."""
    await send_event(w, secret, "SKU-1", 3, utcnow() - timedelta(seconds=5))
    await wait_events_handled(sessions)
    for _ in range(3):
        await _wake_stock(sessions)
        await wait_for(lambda: _ran_since(sessions), what="a stock run")
    assert await _file_statuses(sessions) == ["in_doubt"]
    assert len(await uploads(w)) == 1


async def test_a_file_in_doubt_is_read_before_the_next_is_sent_so_an_older_quantity_never_wins(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(stock_settings(settings)) as w:
        secret = await _a_file_in_doubt(w, sessions)
        # A newer quantity arrives: it must not leave while the old file may still be applied.
        await _newer_quantity_stays_while_in_doubt(w, sessions, secret)
        # Rakuten finally applies the old file; only then does the newer quantity go.
        assert (await w.rakuten.put("/_sandbox/settings", json={"upload_delay_seconds": 0.2})).status_code == 200
        assert (await w.rakuten.post("/_sandbox/clock", json={"advance_seconds": 90000})).status_code == 200
        await _wake_stock(sessions, next_poll_at=None)
        await wait_pushed(w, {"SKU-1": 3})
        assert await _file_statuses(sessions) == ["processed", "processed"]
        assert (await rakuten_stock(w))["SKU-1"] == 3


async def _is(sessions: async_sessionmaker[AsyncSession], statuses: list[str]) -> bool:
    return await _file_statuses(sessions) == statuses


async def _ran_since(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        next_run = await session.scalar(select(StockState.next_run_at))
    return next_run is None or next_run > utcnow()


async def test_a_lost_upload_answer_holds_the_next_file_so_the_lost_one_cannot_land_after_it(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(stock_settings(settings, stock_lost_upload_hold_seconds=3600)) as w:
        await set_rakuten_inventory(w, {"SKU-1": 0})
        _, secret = await connect(w)
        # Rakuten takes the file but its answer is cut short: the connector never learns the import id.
        lost = {"truncated_rate": 1.0, "actions": ["genericimportfile"], "times": 1}
        assert (await w.rakuten.put("/_sandbox/faults", json=lost)).status_code == 200
        await send_event(w, secret, "SKU-1", 5, utcnow() - timedelta(seconds=30))
        await wait_for(lambda: _is(sessions, ["in_doubt"]), what="the upload whose answer was lost in doubt")
        # A newer quantity waits out the hold: the lost file may still be applied after anything sent now.
        await _newer_quantity_stays_while_in_doubt(w, sessions, secret)
        assert (await stock_items(w))["SKU-1"]["status"] == "pending"
        # The hold over, the newer quantity goes, whatever became of the lost file.
        await _wake_stock(sessions, uploaded_at=utcnow() - timedelta(hours=2))
        await wait_pushed(w, {"SKU-1": 3})
        assert await _file_statuses(sessions) == ["abandoned", "processed"]
        assert len(await uploads(w)) == 2


async def test_a_file_in_doubt_for_a_day_is_given_up_and_the_next_file_goes(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(stock_settings(settings)) as w:
        await _a_file_in_doubt(w, sessions)
        await _wake_stock(sessions, uploaded_at=utcnow() - timedelta(hours=25), next_poll_at=None)
        await wait_for(lambda: _first_is(sessions, "expired"), what="the file given up")
        assert (await w.rakuten.put("/_sandbox/settings", json={"upload_delay_seconds": 0.2})).status_code == 200
        await wait_pushed(w, {"SKU-1": 5})  # the next file carries the quantity again
        assert await _file_statuses(sessions) == ["expired", "processed"]
        assert len(await uploads(w)) == 2


async def _first_is(sessions: async_sessionmaker[AsyncSession], status: str) -> bool:
    return (await _file_statuses(sessions))[:1] == [status]
