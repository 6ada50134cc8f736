"""`webhooks list|replay`: the stored events by status, and a failed or pending event handled again by a
worker, queued as the webhook route queues it; what cannot be replayed is a message and exit code 1."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.settings import Settings
from rakuten_connector.stock.models import StockItem
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent
from rakuten_connector.worker import running_in_background
from tests.cli.conftest import MISSING, Cli, Rows, queued_jobs
from tests.waiting import wait_until

pytestmark = pytest.mark.usefixtures("sessions")

PARCEL = {"type": "parcel.updated", "data": {"id": 77, "orderRef": "RAKUTEN-1", "status": "SHIPPED"}}


def stock_event(sku: str, available: int) -> dict[str, Any]:
    at = (utcnow() - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    return {"type": "stock.updated", "timestamp": at, "data": {"sku": sku, "available": available}}


async def test_list_gives_one_status_newest_first_with_the_reason(cli: Cli, rows: Rows) -> None:
    a, b = await rows.connection(), await rows.connection()
    now = utcnow()
    old = await rows.event(a, EventStatus.FAILED, "parcel.updated", PARCEL, received_at=now - timedelta(hours=1))
    new = await rows.event(
        b, EventStatus.FAILED, "stock.updated", stock_event("S", 1), last_error="refused [sku]", received_at=now
    )
    await rows.event(a, EventStatus.PROCESSED, "parcel.updated", PARCEL)

    answer = await cli.json("webhooks", "list", "--status", "failed")
    assert [(e["id"], e["status"]) for e in answer["items"]] == [(new, "failed"), (old, "failed")]
    assert answer["items"][0]["last_error"] == "refused [sku]"
    assert "payload" not in answer["items"][0]

    only_a = await cli.json("webhooks", "list", "--status", "failed", "--connection", a)
    assert [e["id"] for e in only_a["items"]] == [old]
    assert len((await cli.json("webhooks", "list", "--status", "failed", "--limit", "1"))["items"]) == 1

    table = await cli("webhooks", "list", "--status", "failed")
    assert table.exit_code == 0, table.output
    assert new in table.stdout
    assert "refused [sku]" in table.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--status", "failed", "--connection", MISSING], 1, "Error: connection not found"),
        (["--status", "lost"], 2, "lost"),
    ],
)
async def test_list_refuses_what_it_cannot_answer(cli: Cli, args: list[str], code: int, message: str) -> None:
    result = await cli("webhooks", "list", *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr


async def test_a_replayed_parcel_event_is_pending_again_with_a_job_of_its_own(
    cli: Cli, rows: Rows, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    shop = await rows.connection()
    event_id = await rows.event(
        shop, EventStatus.FAILED, "parcel.updated", PARCEL, last_error="could not be applied", attempts=1
    )
    answer = await cli.json("webhooks", "replay", event_id)
    assert (answer["event"]["status"], answer["event"]["last_error"], answer["queued"]) == ("pending", None, True)
    assert await queued_jobs(settings.redis_url, f"webhook:{event_id}:") == [("handle_webhook_event", (event_id,))]
    async with sessions() as session:
        event = await session.get_one(WebhookEvent, event_id)
        assert (event.status, event.last_error, event.processed_at) == ("pending", None, None)

    # A pending one may be replayed too (its job lost with Redis): one more job, under another id.
    again = await cli("webhooks", "replay", event_id)
    assert again.exit_code == 0, again.output
    assert f"Event {event_id} (parcel.updated) is pending again; its job is queued." == again.stdout.strip()
    assert len(await queued_jobs(settings.redis_url, f"webhook:{event_id}:")) == 2


async def test_a_replayed_stock_event_is_applied_by_a_worker(
    cli: Cli, rows: Rows, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # Stock update off: the quantity is recorded, nothing is pushed to Rakuten.
    shop = await rows.connection(stock_sync_enabled=False)
    event_id = await rows.event(
        shop, EventStatus.FAILED, "stock.updated", stock_event("SKU-7", 12), last_error="the database refused"
    )
    async with running_in_background(settings):
        result = await cli("webhooks", "replay", event_id)
        assert result.exit_code == 0, result.output

        async def processed() -> bool:
            async with sessions() as session:
                return (await session.get_one(WebhookEvent, event_id)).status == EventStatus.PROCESSED

        await wait_until(processed, what="the replayed event to be applied")
    async with sessions() as session:
        item = await session.scalar(select(StockItem).where(StockItem.connection_id == shop))
    assert item is not None
    assert (item.sku, item.wanted_quantity) == ("SKU-7", 12)


@pytest.mark.parametrize("status", [EventStatus.PROCESSED, EventStatus.IGNORED])
async def test_an_event_already_handled_is_not_replayed(
    cli: Cli, rows: Rows, settings: Settings, status: EventStatus
) -> None:
    event_id = await rows.event(await rows.connection(), status, "parcel.updated", PARCEL)
    result = await cli("webhooks", "replay", event_id)
    assert result.exit_code == 1
    expected = f"Error: Only failed or pending events can be replayed (this one is {status.value})."
    assert result.stderr.strip() == expected
    assert (await cli.json("webhooks", "replay", event_id, code=1))["error"]["code"] == "event_not_replayable"
    assert await queued_jobs(settings.redis_url, "webhook:") == []


@pytest.mark.parametrize("event_id", [MISSING, "not-a-uuid"])
async def test_replay_of_an_unknown_event_says_so(cli: Cli, event_id: str) -> None:
    result = await cli("webhooks", "replay", event_id)
    assert (result.exit_code, result.stderr.strip()) == (1, "Error: webhook event not found")
    assert "Traceback" not in result.output
