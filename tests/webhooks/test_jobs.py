"""Which job a stored event asks for: a parcel event its own (one id for the route and the sweep), a stock
event its connection's next batch, an unknown type none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rakuten_connector.stock.jobs import next_batch_job
from rakuten_connector.webhooks.jobs import HANDLE_WEBHOOK_EVENT, event_job, handling_job
from rakuten_connector.webhooks.schemas import PARCEL_UPDATED, STOCK_UPDATED

RECEIVED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_the_route_and_the_sweep_queue_a_pending_event_under_one_id_renewed_while_it_waits() -> None:
    by_route = event_job("e-1", RECEIVED)
    assert (by_route.function, by_route.args) == (HANDLE_WEBHOOK_EVENT, ("e-1",))
    period = timedelta(minutes=1)
    assert event_job("e-1", RECEIVED, RECEIVED + timedelta(seconds=30), period) == by_route
    assert event_job("e-1", RECEIVED, RECEIVED + timedelta(minutes=2), period).id != by_route.id


def test_a_parcel_event_gets_its_own_job_and_a_replay_a_new_one() -> None:
    job = handling_job(PARCEL_UPDATED, "e-1", "c-1", RECEIVED, RECEIVED)
    assert job == event_job("e-1", RECEIVED)
    replayed = handling_job(PARCEL_UPDATED, "e-1", "c-1", RECEIVED + timedelta(hours=1), RECEIVED)
    assert replayed is not None
    assert replayed.id != job.id


def test_a_stock_event_joins_its_connections_next_batch_and_an_unknown_type_asks_for_nothing() -> None:
    now = RECEIVED + timedelta(seconds=3)
    assert handling_job(STOCK_UPDATED, "e-1", "c-1", RECEIVED, now) == next_batch_job("c-1", now)
    assert handling_job("parcel.exploded", "e-1", "c-1", RECEIVED, now) is None
