"""Creating an order's parcel exactly once: created, adopted after a 409 or found by its orderRef after
an attempt whose outcome is unknown; Cubyn's refusals fail the order with a reason, its blips wait for
the next attempt."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.orm import selectinload

from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.orders.parcel_creation import ensure_parcel
from rakuten_connector.orders.progress import RECHECK_AFTER
from rakuten_connector.orders.service import timeline
from rakuten_connector.runtime import Runtime
from tests.clients.test_cubyn_client import PARCEL, REQUEST
from tests.conftest import CUBYN_URL
from tests.orders.helpers import add_live_connection, add_order
from tests.upstream_fakes import Upstreams


async def _importing(rt: Runtime, **fields: Any) -> str:
    values: dict[str, Any] = {
        "state": OrderState.IMPORTING.value,
        "parcel_request": REQUEST.model_dump_json(by_alias=True),
        "attempts": 0,
    }
    return await add_order(rt, await add_live_connection(rt), **(values | fields))


async def _ensure(rt: Runtime, order_id: str) -> tuple[Order, list[tuple[str, str]]]:
    async with rt.sessions() as session:
        order = await session.get_one(Order, order_id, options=[selectinload(Order.items)])
        await ensure_parcel(rt, session, await session.get_one(Connection, order.connection_id), order)
    async with rt.sessions() as session:
        order = await session.get_one(Order, order_id)
        return order, [(event.kind, event.message) for event in await timeline(session, order)]


def _created(order: Order, events: list[tuple[str, str]], how: str) -> None:
    assert (order.state, order.parcel_id, order.tracking_id) == ("imported", "123456", "CUB123456")
    assert (order.attempts, order.last_error) == (0, None)
    assert order.next_check_at is not None
    assert order.next_check_at > utcnow() + RECHECK_AFTER[OrderState.IMPORTED] - timedelta(minutes=1)
    assert events == [("imported", f"Cubyn parcel CUB123456 {how}.")]


async def test_a_new_order_gets_its_parcel_with_its_order_ref_as_idempotency_key(
    rt: Runtime, upstreams: Upstreams
) -> None:
    order_id = await _importing(rt)
    lookup = upstreams.mock.get(f"{CUBYN_URL}/parcels")
    create = upstreams.mock.post(f"{CUBYN_URL}/parcels").respond(201, json=PARCEL)
    order, events = await _ensure(rt, order_id)
    _created(order, events, "created")
    assert not lookup.called  # a first attempt has nothing to look up
    assert create.calls.last.request.headers["Idempotency-Key"] == "RAKUTEN-1"


async def test_a_parcel_cubyn_already_has_for_the_order_ref_is_adopted(rt: Runtime, upstreams: Upstreams) -> None:
    order_id = await _importing(rt)
    upstreams.mock.post(f"{CUBYN_URL}/parcels").respond(409, json={"message": "exists", "parcelId": 123456})
    upstreams.mock.get(f"{CUBYN_URL}/parcels/123456").respond(200, json=PARCEL)
    order, events = await _ensure(rt, order_id)
    _created(order, events, "already existed and was adopted")


async def test_after_an_attempt_whose_outcome_is_unknown_the_parcel_is_looked_up_first(
    rt: Runtime, upstreams: Upstreams
) -> None:
    order_id = await _importing(rt, attempts=1)
    upstreams.mock.get(f"{CUBYN_URL}/parcels", params={"orderRef": "RAKUTEN-1"}).respond(200, json=[PARCEL])
    create = upstreams.mock.post(f"{CUBYN_URL}/parcels")
    order, events = await _ensure(rt, order_id)
    _created(order, events, "found by its orderRef and adopted")
    assert not create.called


async def test_invalid_fields_fail_the_order_with_what_to_fix(rt: Runtime, upstreams: Upstreams) -> None:
    order_id = await _importing(rt)
    errors = [{"field": "address.zip", "message": "invalid zip"}, {"field": "phone"}]
    upstreams.mock.post(f"{CUBYN_URL}/parcels").respond(400, json={"message": "Invalid parcel", "errors": errors})
    order, events = await _ensure(rt, order_id)
    reason = (
        "Cubyn refused the parcel: invalid address.zip (invalid zip), phone. Fix the data, then retry the order."
    )
    assert (order.state, order.reason, order.next_check_at, order.parcel_id) == ("failed", reason, None, None)
    assert events == [("failed", reason)]


async def test_a_transient_cubyn_error_waits_for_the_next_attempt_until_there_were_too_many(
    rt: Runtime, upstreams: Upstreams
) -> None:
    order_id = await _importing(rt)
    lookups = upstreams.mock.get(f"{CUBYN_URL}/parcels").respond(200, json=[])
    upstreams.mock.post(f"{CUBYN_URL}/parcels").mock(return_value=httpx.Response(503))
    before = utcnow()
    order, events = await _ensure(rt, order_id)
    assert (order.state, order.attempts, events) == ("importing", 1, [])
    assert order.last_error is not None
    assert order.next_check_at is not None
    first_wait = timedelta(seconds=rt.settings.order_backoff.ceiling(1))  # jittered under it
    assert before <= order.next_check_at <= utcnow() + first_wait
    most = rt.settings.retry_order_max_attempts
    async with rt.sessions() as session:
        (await session.get_one(Order, order_id)).attempts = most - 1
        await session.commit()
    order, events = await _ensure(rt, order_id)
    assert lookups.call_count == 1  # the attempt before may have created it
    assert (order.state, order.attempts) == ("failed", most)
    assert [kind for kind, _ in events] == ["failed"]


async def test_an_order_not_importing_is_left_alone(rt: Runtime, upstreams: Upstreams) -> None:
    order_id = await _importing(rt, state=OrderState.IMPORTED.value, parcel_id="9")
    order, events = await _ensure(rt, order_id)
    assert (order.state, order.parcel_id, events) == ("imported", "9", [])
