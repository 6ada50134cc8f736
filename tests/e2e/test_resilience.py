"""End to end with real processes: replayed and reordered webhooks, Rakuten quota, bad token, flaky
answers, and a slow shop next to a healthy one."""

from __future__ import annotations

import asyncio
import collections
import json
import random
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection
from rakuten_connector.settings import Settings
from rakuten_connector.webhooks.models import WebhookEvent
from tests.e2e.processes import system
from tests.e2e.test_exactly_once import (
    all_in,
    assert_each_item_accepted_once,
    assert_one_parcel_per_purchase,
    generate,
    states,
)
from tests.e2e.world import World, seed, wait_for
from tests.webhooks.test_router import signed_headers

pytestmark = [pytest.mark.processes, pytest.mark.usefixtures("sessions")]


async def test_webhooks_replayed_three_times_and_out_of_order_change_nothing(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with system(settings, tmp_path, stock=10_000) as (w, _):
        await w.cubyn.put("/_sandbox/faults", json={"duplicate_deliveries": True, "reorder_deliveries": True})
        sales = await generate(w, 20, seed=21)
        await w.connect()
        await wait_for(
            lambda: all_in(w, {"shipped"}, 20), seconds=90, what="orders shipped", state=lambda: states(w)
        )
        accepts_before = len(await w.calls("acceptsale"))
        files_before = len(await w.calls("importitemshippingstatus"))
        async with sessions() as session:
            payloads = [
                e.payload
                for e in await session.scalars(
                    select(WebhookEvent).where(WebhookEvent.event_type == "parcel.updated")
                )
            ]
        replays = [p for p in payloads for _ in range(3)]
        random.Random(5).shuffle(replays)
        url = f"/v1/webhooks/cubyn/{w.connection_id}"
        for payload in replays:  # the same events again under new ids (a re-emission), in any order
            headers = signed_headers(w.webhook_secret, payload.encode(), webhook_id=f"msg_{uuid.uuid4().hex}")
            assert (await w.api.post(url, content=payload.encode(), headers=headers)).status_code == 200

        async def replays_handled() -> bool:
            async with sessions() as session:
                pending = await session.scalars(select(WebhookEvent.id).where(WebhookEvent.status == "pending"))
                return not pending.all()

        await wait_for(replays_handled, seconds=60, what="the replays to be handled")
        assert await all_in(w, {"shipped"}, 20)
        assert len(await w.calls("acceptsale")) == accepts_before
        assert len(await w.calls("importitemshippingstatus")) == files_before
        await assert_each_item_accepted_once(w)
        assert_one_parcel_per_purchase(await w.parcels(), {s["purchase_id"] for s in sales})
        # Each item's tracking went to Rakuten once: one line in one accepted file.
        lines = collections.Counter()
        for sale in await w.rakuten_sales():
            for item in sale["items"]:
                assert item["tracking"] is not None
                lines[item["item_id"]] += 1
        assert set(lines.values()) == {1}
        assert not [c for c in await w.calls("settrackingpackageinfos") if c["result"] == "ok"]


async def test_quota_bad_token_and_flaky_rakuten(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    fast = settings.model_copy(update={"import_interval_seconds": 3})
    async with system(fast, tmp_path, stock=10_000) as (w, _):
        # 30% of Rakuten's answers fail (5xx or garbled XML): everything is imported in the end, once.
        await w.connect()
        await w.rakuten.put("/_sandbox/faults", json={"error_rate": 0.15, "garbled_rate": 0.15})
        sales = await generate(w, 30, seed=31)
        await wait_for(
            lambda: all_in(w, {"shipped"}, 30), seconds=150, what="orders shipped", state=lambda: states(w)
        )
        assert_one_parcel_per_purchase(await w.parcels(), {s["purchase_id"] for s in sales})
        await assert_each_item_accepted_once(w)
        await w.rakuten.delete("/_sandbox/faults")

        # Quota: the connection waits for the next hour, with the reason shown, and stops calling.
        await w.rakuten.put("/_sandbox/faults", json={"quota_exhausted": True})

        async def shows(text: str) -> bool:
            shown = (await w.api.get(f"/v1/connections/{w.connection_id}", headers=w.headers)).json()
            return text in (shown["last_import_error"] or "")

        await wait_for(lambda: shows("quota"), seconds=30, what="the quota to be shown")
        async with sessions() as session:
            connection = await session.get_one(Connection, w.connection_id)
            assert connection.next_import_at is not None
            # The next clock hour after the refusal, plus a little jitter (5 to 60 s).
            next_hour = connection.updated_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            assert (
                next_hour + timedelta(seconds=5) <= connection.next_import_at <= next_hour + timedelta(seconds=60)
            )
        calls_then = len(await w.calls("getnewsales"))
        await asyncio.sleep(8)  # nearly three import intervals
        assert len(await w.calls("getnewsales")) == calls_then
        await w.rakuten.delete("/_sandbox/faults")

        # Bad token: the connection says why and its polling stops.
        await w.rakuten.patch(f"/_sandbox/sellers/{w.login}", json={"token": "rotated-elsewhere"})
        async with sessions() as session:
            connection = await session.get_one(Connection, w.connection_id)
            connection.next_import_at = connection.updated_at  # due now
            await session.commit()

        async def invalid() -> bool:
            shown = (await w.api.get(f"/v1/connections/{w.connection_id}", headers=w.headers)).json()
            return bool(shown["status"] == "credentials_invalid")

        await wait_for(invalid, seconds=30, what="credentials_invalid")
        shown = (await w.api.get(f"/v1/connections/{w.connection_id}", headers=w.headers)).json()
        assert "token" in shown["status_reason"]
        calls_then = len(await w.calls("getnewsales"))
        await asyncio.sleep(8)
        assert len(await w.calls("getnewsales")) == calls_then


async def test_a_slow_shop_does_not_delay_another(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with system(settings, tmp_path, stock=10_000) as (slow, _):
        login, token, key = await seed(slow.rakuten, slow.cubyn, 10_000)
        quick = World(slow.settings, slow.api, slow.rakuten, slow.cubyn, login, token, key, headers=slow.headers)
        await generate(slow, 5, seed=41)
        await generate(quick, 5, seed=42)
        await slow.connect()
        await slow.rakuten.put("/_sandbox/faults", json={"latency_seconds": 5, "logins": [slow.login]})
        await quick.connect()
        started = time.monotonic()
        await wait_for(lambda: all_in(quick, {"shipped"}, 5), seconds=60, what="the quick shop's orders")
        quick_done = time.monotonic() - started
        async with sessions() as session:
            slow_connection = await session.get_one(Connection, slow.connection_id)
        # The slow shop's first Rakuten answer takes 5 s, and its import several of them: the quick
        # shop was served in the meantime, not after it.
        assert slow_connection.last_import_at is None or quick_done < 5 * 3, json.dumps({"quick": quick_done})
        await slow.rakuten.delete("/_sandbox/faults")
        await wait_for(lambda: all_in(slow, {"shipped"}, 5), seconds=90, what="the slow shop's orders")
