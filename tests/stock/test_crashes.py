"""Crashes and restarts: a worker that dies between an upload and its bookkeeping, during an upload, or in
the middle of a full sync loses no update and leaves no sync running forever."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.runtime import Runtime
from rakuten_connector.settings import Settings
from rakuten_connector.stock import pushes, syncs
from rakuten_connector.stock.models import StockFile, StockSync
from tests.e2e.world import running_worker, wait_for, world
from tests.stock.helpers import (
    connect,
    rakuten_stock,
    send_event,
    set_rakuten_inventory,
    stock_settings,
    uploads,
    wait_pushed,
    wait_sync,
)

pytestmark = pytest.mark.usefixtures("sessions")


def quick(settings: Settings) -> Settings:
    """A short lease: the work of a dead worker is taken over within seconds."""
    return settings.model_copy(update={"lease_seconds": 2})


async def file_statuses(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list((await session.scalars(select(StockFile.status).order_by(StockFile.created_at))).all())


async def test_a_crash_between_upload_and_bookkeeping_loses_nothing(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    record_upload = pushes.record_upload
    crashes: list[str] = []

    async def crash_once(*args: Any) -> None:
        if not crashes:
            crashes.append("crashed")
            raise RuntimeError("the worker died right after the upload")
        await record_upload(*args)

    monkeypatch.setattr(pushes, "record_upload", crash_once)
    async with world(stock_settings(settings), worker=False) as w:
        await set_rakuten_inventory(w, {"A": 0, "B": 0})
        _, secret = await connect(w)
        now = utcnow()
        async with running_worker(quick(w.settings)):
            await send_event(w, secret, "A", 3, now)
            await send_event(w, secret, "B", 4, now)
            await wait_for(lambda: _true_when(crashes), what="the crash")
            # A change while the state is unknown goes out too.
            await send_event(w, secret, "A", 6, now + timedelta(seconds=1))
            await wait_pushed(w, {"A": 6, "B": 4})
        # The crashed file is abandoned and its SKUs go again: with A = 6 if that event was applied before
        # the next file left, or in a third file if not (a loaded machine decides); every file Rakuten got
        # is known and processed, and nothing older lands last.
        statuses = await file_statuses(sessions)
        assert statuses[0] == "abandoned"
        assert statuses[1:] in (["processed"], ["processed", "processed"])
        assert len(await uploads(w)) == len(statuses)
        assert await rakuten_stock(w) == {"A": 6, "B": 4}


async def _true_when(flag: list[str]) -> bool:
    return bool(flag)


async def test_a_worker_killed_during_an_upload_loses_nothing(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(stock_settings(settings), worker=False) as w:
        await set_rakuten_inventory(w, {"A": 0, "B": 0})
        _, secret = await connect(w)
        slow = {"latency_seconds": 1.5, "actions": ["genericimportfile"], "times": 1}
        assert (await w.rakuten.put("/_sandbox/faults", json=slow)).status_code == 200
        now = utcnow()
        await send_event(w, secret, "A", 3, now)
        await send_event(w, secret, "B", 4, now)

        async def uploading() -> bool:
            return await file_statuses(sessions) == ["preparing"]

        async with running_worker(quick(w.settings)):
            await wait_for(uploading, what="an upload in progress")
        # That worker is gone mid-upload; another one takes over.
        async with running_worker(quick(w.settings)):
            await wait_pushed(w, {"A": 3, "B": 4})
        assert (await file_statuses(sessions))[0] == "abandoned"
        assert (await file_statuses(sessions))[-1] == "processed"


async def test_a_worker_killed_during_a_full_sync_leaves_no_sync_running(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(stock_settings(settings), worker=False) as w:
        rakuten = {f"S{n:02d}": 0 for n in range(12)}
        cubyn = {sku: 5 for sku in rakuten}
        await set_rakuten_inventory(w, rakuten)
        connection_id, _ = await connect(w, cubyn_products=cubyn)
        await w.rakuten.put("/_sandbox/settings", json={"export_page_size": 2})
        slow = {"latency_seconds": 0.4, "actions": ["export"]}
        assert (await w.rakuten.put("/_sandbox/faults", json=slow)).status_code == 200
        answer = await w.api.post(f"/v1/connections/{connection_id}/stock-syncs", headers=w.headers)
        sync_id = answer.json()["id"]

        async def reading() -> bool:
            # Its attempt counted: the sync is marked running one commit before its reading begins, and a
            # loaded machine can stop the worker in between.
            async with sessions() as session:
                sync = await session.get_one(StockSync, sync_id)
                return (sync.status, sync.phase, sync.attempts) == ("running", "reading_rakuten", 1)

        async with running_worker(quick(w.settings)):
            await wait_for(reading, what="the sync reading Rakuten")
        async with sessions() as session:
            assert (await session.get_one(StockSync, sync_id)).status == "running"
        async with running_worker(quick(w.settings)):
            result = await wait_sync(w, sync_id)
        assert result["status"] == "succeeded", result
        assert result["progress"]["updated"] == 12
        assert await rakuten_stock(w) == cubyn
        async with sessions() as session:
            # The killed run's attempt counted, and the second worker's. A loaded machine can stall the
            # second worker past the 2 s lease of this test: it gives the sync up and takes it again, one
            # attempt more, and the sync still ends once.
            assert (await session.get_one(StockSync, sync_id)).attempts >= 2


async def test_a_sync_that_cannot_read_ends_failed_with_the_reason(settings: Settings) -> None:
    async with world(stock_settings(settings), worker=False) as w:
        connection_id, _ = await connect(w, cubyn_products={"A": 1})
        failing = {"error_rate": 1.0, "actions": ["export"]}
        assert (await w.rakuten.put("/_sandbox/faults", json=failing)).status_code == 200
        answer = await w.api.post(f"/v1/connections/{connection_id}/stock-syncs", headers=w.headers)
        rt = Runtime.start(w.settings)
        most = w.settings.retry_stock_sync_max_attempts
        try:
            outcomes = [await syncs.run_sync(rt, answer.json()["id"]) for _ in range(most + 1)]
        finally:
            await rt.close()
        assert outcomes == ["retry_later"] * most + ["failed"]
        result = (
            await w.api.get(
                f"/v1/connections/{connection_id}/stock-syncs/{answer.json()['id']}", headers=w.headers
            )
        ).json()
        assert result["status"] == "failed"
        assert result["error"].startswith(f"Gave up after {most} attempts: Temporary error while reading")
