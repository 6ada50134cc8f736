"""Creating an order's parcel exactly once: created, adopted after a 409 or found by its orderRef after
an attempt whose outcome is unknown; Cubyn's refusals fail the order with a reason, its blips wait for
the next attempt."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit import leases
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders import parcel_creation
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.orders.order_lease import with_orders
from rakuten_connector.orders.parcel_creation import ensure_parcel, ensure_parcels
from rakuten_connector.orders.progress import RECHECK_AFTER
from rakuten_connector.orders.service import timeline
from rakuten_connector.runtime import Runtime
from tests.clients.test_cubyn_client import PARCEL, REQUEST
from tests.conftest import CUBYN_URL, LOGS
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


def _answer_by_order_ref(answers: dict[str, httpx.Response]) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        return answers[json.loads(request.content)["orderRef"]]

    return answer


async def _batch(rt: Runtime, connection_id: str, count: int) -> list[str]:
    orders = []
    for n in range(1, count + 1):
        request = REQUEST.model_copy(update={"order_ref": f"RAKUTEN-{n}"}).model_dump_json(by_alias=True)
        fields = {"state": OrderState.IMPORTING.value, "parcel_request": request, "attempts": 0}
        orders.append(await add_order(rt, connection_id, purchase_id=str(n), **fields))
    return orders


async def _orders(rt: Runtime, order_ids: list[str]) -> list[Order]:
    async with rt.sessions() as session:
        return [await session.get_one(Order, order_id) for order_id in order_ids]


async def test_a_batch_gives_each_order_its_own_outcome_and_leaves_a_busy_order_to_its_holder(
    rt: Runtime, upstreams: Upstreams
) -> None:
    connection_id = await add_live_connection(rt)
    ids = await _batch(rt, connection_id, 6)
    invalid = {"message": "Invalid parcel", "errors": [{"field": "phone"}]}
    answers = {
        "RAKUTEN-1": httpx.Response(201, json={**PARCEL, "id": 1001, "orderRef": "RAKUTEN-1"}),
        "RAKUTEN-2": httpx.Response(409, json={"message": "exists", "parcelId": 1002}),
        "RAKUTEN-3": httpx.Response(400, json=invalid),
        "RAKUTEN-4": httpx.Response(503),
        "RAKUTEN-5": httpx.Response(201, json={**PARCEL, "id": 1005, "orderRef": "RAKUTEN-5"}),
    }
    create = upstreams.mock.post(f"{CUBYN_URL}/parcels").mock(side_effect=_answer_by_order_ref(answers))
    upstreams.mock.get(f"{CUBYN_URL}/parcels/1002").respond(200, json={**PARCEL, "id": 1002})
    async with leases.held(rt.engine, Order, ids[5], "another-worker", timedelta(seconds=30)) as busy:
        assert busy is not None
        await with_orders(rt, connection_id, ids, ensure_parcels)
    one, two, three, four, five, six = await _orders(rt, ids)
    assert [(o.state, o.parcel_id) for o in (one, two, five)] == [
        ("imported", "1001"),
        ("imported", "1002"),
        ("imported", "1005"),
    ]
    invalid_reason = "Cubyn refused the parcel: invalid phone. Fix the data, then retry the order."
    assert (three.state, three.reason) == ("failed", invalid_reason)
    assert (four.state, four.attempts, four.last_error is not None) == ("importing", 1, True)
    assert (six.state, six.attempts) == ("importing", 0)  # its holder creates it
    assert create.call_count == 5
    async with rt.sessions() as session:
        owners = (await session.scalars(select(Order.lease_owner).where(Order.id.in_(ids[:5])))).all()
        assert list(owners) == [None] * 5  # every lease given back


async def test_cubyn_refusing_the_key_in_a_batch_keeps_the_parcels_made_before_and_marks_the_connection(
    rt: Runtime, upstreams: Upstreams
) -> None:
    connection_id = await add_live_connection(rt)
    ids = await _batch(rt, connection_id, 2)
    answers = {
        "RAKUTEN-1": httpx.Response(201, json={**PARCEL, "id": 1001, "orderRef": "RAKUTEN-1"}),
        "RAKUTEN-2": httpx.Response(401, json={"message": "Unauthorized"}),
    }
    upstreams.mock.post(f"{CUBYN_URL}/parcels").mock(side_effect=_answer_by_order_ref(answers))
    await with_orders(rt, connection_id, ids, ensure_parcels)
    one, two = await _orders(rt, ids)
    assert (one.state, one.parcel_id) == ("imported", "1001")  # written down: never created twice
    assert (two.state, two.attempts) == ("importing", 1)  # looked up first when the key works again
    async with rt.sessions() as session:
        connection = await session.get_one(Connection, connection_id)
        assert connection.state == ConnectionState.CREDENTIALS_INVALID.value


async def test_a_batch_whose_lease_is_lost_stops_as_lease_lost_and_writes_no_outcome(
    rt: Runtime, upstreams: Upstreams
) -> None:
    connection_id = await add_live_connection(rt)
    ids = await _batch(rt, connection_id, 3)

    def lose_then_answer(request: httpx.Request) -> httpx.Response:
        for hold in leases.current():
            hold.lost = True  # as a renewal finding another owner would
        return httpx.Response(201, json={**PARCEL, "orderRef": json.loads(request.content)["orderRef"]})

    upstreams.mock.post(f"{CUBYN_URL}/parcels").mock(side_effect=lose_then_answer)
    with pytest.raises(leases.LeaseLost):
        await with_orders(rt, connection_id, ids, ensure_parcels)
    assert [(o.state, o.parcel_id) for o in await _orders(rt, ids)] == [("importing", None)] * 3


async def test_the_batches_of_one_import_share_one_gate_of_cubyn_calls(
    rt: Runtime, upstreams: Upstreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parcel_creation, "PARCEL_BATCH", 3)
    monkeypatch.setattr(parcel_creation, "PARCEL_CONCURRENCY", 2)  # each batch alone would reach 2 at once
    connection_id = await add_live_connection(rt)
    ids = await _batch(rt, connection_id, 10)
    in_flight, most = 0, 0

    async def create(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.2)  # long enough for the second batch to be leased and calling meanwhile
        in_flight -= 1
        return httpx.Response(201, json={**PARCEL, "orderRef": json.loads(request.content)["orderRef"]})

    upstreams.mock.post(f"{CUBYN_URL}/parcels").mock(side_effect=create)
    async with parcel_creation.parcel_batches(rt, connection_id) as add:
        add(ids[:4])
        add(ids[4:])
    assert [o.state for o in await _orders(rt, ids)] == ["imported"] * 10
    assert most == 2  # two batches in flight, yet never more than the gate's calls


async def test_a_lost_lease_in_one_batch_stops_the_batches_as_lease_lost(
    rt: Runtime, upstreams: Upstreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parcel_creation, "PARCEL_BATCH", 2)
    connection_id = await add_live_connection(rt)
    ids = await _batch(rt, connection_id, 6)

    def lose_then_answer(request: httpx.Request) -> httpx.Response:
        for hold in leases.current():
            hold.lost = True
        return httpx.Response(201, json={**PARCEL, "orderRef": json.loads(request.content)["orderRef"]})

    upstreams.mock.post(f"{CUBYN_URL}/parcels").mock(side_effect=lose_then_answer)
    first_line = len(LOGS.lines)
    with pytest.raises(leases.LeaseLost):  # as itself, not inside an exception group
        async with parcel_creation.parcel_batches(rt, connection_id) as add:
            add(ids)
    assert all(o.parcel_id is None for o in await _orders(rt, ids))
    # Both batches in flight lost theirs: one is raised, the other said in the logs.
    assert sum("parcel_batch_failed" in line for line in LOGS.lines[first_line:]) == 1
