"""PostgreSQL going away under real processes: connections killed in the middle of an import, then the
database refusing connections during a burst of webhooks. The webhook route never answers 2xx for an
event it could not store, the API and the worker recover without a restart, and in the end nothing is
lost or duplicated: parcels, acceptances, tracking, stock quantities."""

from __future__ import annotations

import asyncio
import collections
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from standardwebhooks.webhooks import Webhook

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.settings import Settings
from rakuten_connector.webhooks.models import WebhookEvent
from tests.conftest import POSTGRES_ADMIN_URL
from tests.e2e.processes import system
from tests.e2e.test_exactly_once import (
    all_in,
    assert_each_item_accepted_once,
    assert_one_parcel_per_purchase,
    generate,
    states,
)
from tests.e2e.world import World, wait_for
from tests.stock.helpers import rakuten_stock, set_rakuten_inventory

pytestmark = [pytest.mark.processes, pytest.mark.usefixtures("sessions")]

OUTAGE_SECONDS = 4.0
STOCK_SKUS = ("SKU-4", "SKU-5")  # not sold by the generated sales: only the webhooks below move them


@asynccontextmanager
async def admin() -> AsyncIterator[AsyncEngine]:
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+asyncpg")
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        yield engine
    finally:
        await engine.dispose()


async def kill_connections(engine: AsyncEngine, database: str) -> int:
    async with engine.connect() as conn:
        killed = await conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": database},
        )
    return int(killed or 0)


async def allow_connections(engine: AsyncEngine, database: str, allowed: bool) -> None:
    async with engine.connect() as conn:
        await conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}'))


class Sender:
    """Cubyn's side of the webhooks: each event is sent again (same webhook id) until answered 2xx."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.answers: list[tuple[float, float, int]] = []  # (sent, answered, status), monotonic
        self.webhook_ids: list[str] = []
        self.unanswered: list[str] = []  # sends that got no HTTP answer at all

    async def send(self, sku: str, available: int, seconds_ago: float) -> None:
        at = utcnow() - timedelta(seconds=seconds_ago)
        body = json.dumps(
            {
                "type": "stock.updated",
                "timestamp": at.isoformat().replace("+00:00", "Z"),
                "data": {"sku": sku, "available": available, "movement": "ADJUSTMENT", "delta": 0},
            }
        )
        webhook_id = f"msg_{uuid.uuid4().hex}"
        self.webhook_ids.append(webhook_id)
        url = f"/v1/webhooks/cubyn/{self.w.connection_id}"
        while True:
            now = utcnow()
            headers = {
                "webhook-id": webhook_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": Webhook(self.w.webhook_secret).sign(webhook_id, now, body),
                "content-type": "application/json",
            }
            sent = time.monotonic()
            try:
                response = await self.w.api.post(url, content=body, headers=headers)
            except httpx.TransportError as exc:
                # No answer (a pooled connection the server closed as it was reused): Cubyn sends it again.
                self.unanswered.append(type(exc).__name__)
                await asyncio.sleep(0.2)
                continue
            self.answers.append((sent, time.monotonic(), response.status_code))
            if 200 <= response.status_code < 300:
                return
            assert response.status_code >= 500, response.text  # refused for good would lose the event
            await asyncio.sleep(0.2)


async def test_postgresql_killed_and_refusing_connections_loses_and_duplicates_nothing(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "STOCK_PUSH_MIN_INTERVAL_SECONDS": "1",
        "STOCK_REPORT_POLL_SECONDS": "0.2",
        "STOCK_FULL_SYNC_ENABLED": "false",
    }.items():
        monkeypatch.setenv(name, value)  # the processes inherit them
    database = make_url(settings.database_url).database
    assert database
    async with admin() as pg, system(settings, tmp_path, stock=10_000) as (w, processes):
        started = dict(processes.running)
        await set_rakuten_inventory(w, dict.fromkeys(STOCK_SKUS, 0))
        assert (await w.rakuten.put("/_sandbox/settings", json={"upload_delay_seconds": 0.2})).status_code == 200
        sales = await generate(w, 30, seed=61)
        await w.cubyn.put("/_sandbox/faults", json={"latency_seconds": 0.06})  # the import takes a few seconds
        await w.connect()

        async def under_way() -> bool:
            return len(await w.parcels()) >= 5

        await wait_for(under_way, seconds=60, what="the import to be under way")
        assert await kill_connections(pg, database) > 0  # in the middle of the import
        await w.cubyn.delete("/_sandbox/faults")

        # The database refuses connections while a burst of stock webhooks comes in.
        sender = Sender(w)
        await allow_connections(pg, database, False)
        await kill_connections(pg, database)
        away_from = time.monotonic()
        events = [(sku, n, 60.0 - n) for n in range(1, 16) for sku in STOCK_SKUS]  # later ones are newer
        burst = asyncio.gather(*(sender.send(*event) for event in events))
        await wait_for(lambda: len(sender.answers) >= len(events), what="the burst's first answers")
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - away_from)))
        away_until = time.monotonic()
        await allow_connections(pg, database, True)
        await asyncio.wait_for(burst, 60)

        while_away = [
            status for sent, answered, status in sender.answers if away_from < sent and answered < away_until
        ]
        assert while_away, "no webhook was answered while the database was away"
        assert set(while_away) == {503}, collections.Counter(while_away)

        await wait_for(
            lambda: all_in(w, {"shipped"}, len(sales)),
            seconds=75,
            what="every order shipped",
            state=lambda: states(w),
        )
        wanted = {sku: 15 for sku in STOCK_SKUS}

        async def stock_pushed() -> bool:
            return {sku: n for sku, n in (await rakuten_stock(w)).items() if sku in wanted} == wanted

        await wait_for(
            stock_pushed, seconds=45, what="the latest quantities on Rakuten", state=lambda: rakuten_stock(w)
        )
        output = processes.output()
        retries = [line for line in output.splitlines() if '"job_retry"' in line]
        assert any("DBAPIError" in line for line in retries)  # the worker met the fault, and retried
        assert processes.running == started  # nothing was restarted
        assert all(process.poll() is None for process in processes.running.values())
        assert_one_parcel_per_purchase(await w.parcels(), {s["purchase_id"] for s in sales})
        await assert_each_item_accepted_once(w)
        rakuten_items = [item for sale in await w.rakuten_sales() for item in sale["items"]]
        tracked = collections.Counter(item["item_id"] for item in rakuten_items if item["tracking"])
        assert set(tracked.values()) == {1}
        assert len(tracked) == len(rakuten_items)
        async with sessions() as session:
            stored = await session.scalars(
                select(WebhookEvent.webhook_id).where(WebhookEvent.webhook_id.in_(sender.webhook_ids))
            )
            assert sorted(stored) == sorted(sender.webhook_ids)  # every event stored, once
