"""The poll of one connection under its import lease, and the batch jobs the scheduler queues: what is read
and written around Rakuten's answer, and that one connection's trouble leaves the others alone."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.connections.service import REFUSED_BY
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders import parcel_creation, poll, recording
from rakuten_connector.orders.models import Order, OrderItem, OrderState
from rakuten_connector.orders.recording import ALREADY_IMPORTED
from rakuten_connector.runtime import Runtime
from rakuten_connector.sandbox.cubyn.models import LifecycleDelays
from rakuten_connector.settings import Settings
from tests.clients.test_cubyn_client import PARCEL
from tests.conftest import CUBYN_URL, RAKUTEN_URL, use_secret
from tests.e2e.world import MERCHANT, sale, wait_for, world
from tests.orders.helpers import taken_over
from tests.upstream_fakes import BAD_USER, GOOD_KEY, GOOD_TOKEN, Upstreams

CURRENT_SALES = (Path(__file__).parent.parent / "clients/fixtures/rakuten/getcurrentsales_page2.xml").read_bytes()
NOT_TAKEN = "not taken: busy, not due or not active"


async def _connection(rt: Runtime, token: str = GOOD_TOKEN, **fields: Any) -> str:
    values: dict[str, Any] = {
        "merchant_id": "m",
        "name": "n",
        "seller_id": "shop",
        "seller_key": fields.get("seller_id", "shop"),
        "state": ConnectionState.ACTIVE.value,
        "rakuten_token_enc": rt.box.encrypt(token),
        "next_import_at": utcnow() - timedelta(seconds=1),
        "import_queued_until": utcnow() + timedelta(minutes=2),
    }
    async with rt.sessions() as session:
        connection = Connection(**(values | fields))
        session.add(connection)
        await session.commit()
        return connection.id


async def _read(sessions: async_sessionmaker[AsyncSession], connection_id: str) -> Connection:
    async with sessions() as session:
        return await session.get_one(Connection, connection_id)


async def test_an_empty_poll_writes_its_outcome_and_frees_the_connection(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], upstreams: Upstreams
) -> None:
    connection_id = await _connection(rt, import_failures=2, last_import_error="Rakuten could not be read")
    before = utcnow()
    assert await poll.import_connection(rt, connection_id) == "ok: 0 sale(s), 0 new, 0 skipped"
    assert upstreams.rakuten.call_count == 1
    connection = await _read(sessions, connection_id)
    assert connection.last_import_at is not None
    assert connection.last_import_at >= before
    assert connection.next_import_at is not None
    assert before < connection.next_import_at <= before + timedelta(seconds=rt.settings.import_interval_seconds)
    assert (connection.import_failures, connection.last_import_error) == (0, None)
    assert connection.import_queued_until is None  # the scheduler may queue it again when due
    assert (connection.lease_owner, connection.lease_until) == (None, None)
    # Imported just now: the next job finds it not due and calls nobody.
    assert await poll.import_connection(rt, connection_id) == NOT_TAKEN
    assert upstreams.rakuten.call_count == 1


async def test_a_connection_not_due_paused_or_inactive_is_not_polled(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], upstreams: Upstreams
) -> None:
    later = await _connection(rt, seller_id="later", next_import_at=utcnow() + timedelta(minutes=1))
    paused = await _connection(rt, seller_id="paused", paused=True)
    refused = await _connection(rt, seller_id="refused", state=ConnectionState.CREDENTIALS_INVALID.value)
    gone = await _connection(rt, seller_id="gone", state=ConnectionState.DISCONNECTED.value)
    for connection_id in (later, paused, refused, gone, "no-such-connection"):
        assert await poll.import_connection(rt, connection_id) == NOT_TAKEN
    assert upstreams.rakuten.call_count == 0
    for connection_id in (later, paused, refused, gone):
        connection = await _read(sessions, connection_id)
        assert (connection.lease_owner, connection.last_import_at) == (None, None)


async def test_a_connection_being_imported_is_not_imported_again(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], upstreams: Upstreams
) -> None:
    connection_id = await _connection(rt)
    async with poll.IMPORT_LEASE.held(rt.engine, connection_id, "other-worker", timedelta(seconds=30)) as hold:
        assert hold is not None
        assert await poll.import_connection(rt, connection_id) == NOT_TAKEN
    assert upstreams.rakuten.call_count == 0


async def test_a_batch_imports_each_connection_on_its_own(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], upstreams: Upstreams
) -> None:
    healthy = await _connection(rt, seller_id="healthy")
    refused = await _connection(rt, "a-revoked-token", seller_id="refused")
    broken = await _connection(rt, seller_id="broken", rakuten_token_enc="not a Fernet token")
    outcomes = await poll.import_connections(rt, [broken, refused, healthy])
    assert outcomes == {"failed": 1, "credentials_invalid": 1, "ok": 1}

    assert (await _read(sessions, healthy)).last_import_at is not None
    assert (await _read(sessions, refused)).state == ConnectionState.CREDENTIALS_INVALID.value
    failed = await _read(sessions, broken)
    assert failed.lease_owner is None  # freed for the next try...
    assert failed.import_queued_until is not None  # ...which waits for its claim to run out (a backoff)
    assert failed.last_import_at is None


async def test_no_database_connection_is_held_while_rakuten_answers_the_scan(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], upstreams: Upstreams
) -> None:
    connection_id = await _connection(rt)
    async with rt.sessions() as session:
        order = Order(
            connection_id=connection_id,
            purchase_id="31900003",
            state=OrderState.ACCEPTED.value,
            imported_at=utcnow(),
            items=[OrderItem(item_id="i1", sku="SKU-1", rakuten_status="ACCEPTED")],
        )
        session.add(order)
        await session.commit()
    held_during_scan: list[int] = []

    def current_sales(request: httpx.Request) -> httpx.Response:
        held_during_scan.append(rt.engine.pool.checkedout())  # type: ignore[attr-defined]
        return httpx.Response(200, content=CURRENT_SALES)

    upstreams.mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": "getcurrentsales"}).side_effect = current_sales
    assert (await poll.import_connection(rt, connection_id)).startswith("ok")
    assert held_during_scan == [0]
    assert (await _read(sessions, connection_id)).last_sales_scan_at is not None


MANY_SALES = (Path(__file__).parent.parent / "clients/fixtures/rakuten/getnewsales_many_iso8859.xml").read_bytes()


def _listed_twice(xml: bytes) -> bytes:
    """Rakuten's answer with its first sale (made importable) listed a second time."""
    xml = xml.replace(b"<sku><![CDATA[]]></sku>", b"<sku><![CDATA[SKU-3]]></sku>").replace(
        b"<isnego>Y</isnego>", b"<isnego>N</isnego>"
    )
    first = xml[xml.index(b"<sale>") : xml.index(b"</sale>") + len(b"</sale>")]
    return xml.replace(b"</sales>", first + b"</sales>")


async def test_a_purchase_listed_twice_in_one_answer_gets_one_parcel(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], upstreams: Upstreams
) -> None:
    connection_id = await _connection(rt, cubyn_api_key_enc=rt.box.encrypt(GOOD_KEY))
    upstreams.rakuten.side_effect = None
    upstreams.rakuten.return_value = httpx.Response(200, content=_listed_twice(MANY_SALES))
    created: list[str] = []

    def create_parcel(request: httpx.Request) -> httpx.Response:
        order_ref = json.loads(request.content)["orderRef"]
        created.append(order_ref)
        return httpx.Response(201, json=PARCEL | {"id": len(created), "orderRef": order_ref})

    upstreams.mock.post(f"{CUBYN_URL}/parcels").side_effect = create_parcel
    outcome = await poll.import_connection(rt, connection_id)
    assert outcome.startswith("ok: 3 sale(s), 1 new"), outcome
    assert len(created) == 1
    async with sessions() as session:
        orders = (await session.scalars(select(Order.purchase_id))).all()
    assert sorted(orders) == sorted(set(orders))


async def test_a_seller_connected_again_with_another_cubyn_key_gets_no_second_parcel(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    manual = LifecycleDelays(validate=None, pick=None, pack=None, ship=None)  # the sales stay waiting
    async with world(settings, delays=manual) as w:
        created = await w.add_sales(sale("Normal", ["SKU-1"]), sale("Express", ["SKU-2", "SKU-3"]))
        first = await w.connect()
        refs = {f"RAKUTEN-{s['purchase_id']}" for s in created}

        async def parcels_made() -> bool:
            return {p["parcel"]["orderRef"] for p in await w.parcels()} == refs

        await wait_for(parcels_made, what="the first connection's parcels")
        answer = await w.api.delete(f"/v1/connections/{first}", headers=w.headers)
        assert answer.status_code == 204, answer.text
        w.cubyn_key = use_secret(f"cub-e2e-CANARY-{uuid.uuid4().hex}")
        answer = await w.cubyn.post("/_sandbox/applications", json={"merchant_id": MERCHANT, "key": w.cubyn_key})
        assert answer.status_code == 201, answer.text
        await w.connect()

        async def recorded_again() -> bool:
            orders = await w.orders()
            return len(orders) == len(created) and all(o["state"] != "importing" for o in orders)

        await wait_for(recorded_again, what="the second connection's import")
        for order in await w.orders():
            assert (order["state"], order["reason"]) == ("skipped", ALREADY_IMPORTED)
        answer = await w.api.post(f"/v1/connections/{w.connection_id}/imports", headers=w.headers)
        assert answer.status_code == 202

        async def polled_twice() -> bool:
            return len(await w.calls("getnewsales")) >= 4  # two credential checks, two imports at least

        await wait_for(polled_twice, what="another import")
        parcels = await w.parcels()
        assert sorted(p["parcel"]["orderRef"] for p in parcels) == sorted(refs)  # one parcel per purchase


async def test_an_import_taken_over_while_rakuten_answers_stops_and_writes_nothing(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], upstreams: Upstreams
) -> None:
    rt = Runtime.start(settings.model_copy(update={"lease_seconds": 2}))  # renewed every 0.7 s
    try:
        connection_id = await _connection(rt, cubyn_api_key_enc=rt.box.encrypt(GOOD_KEY))

        async def new_sales(request: httpx.Request) -> httpx.Response:
            await taken_over(sessions, Connection, connection_id)
            return httpx.Response(200, content=_listed_twice(MANY_SALES))

        upstreams.rakuten.side_effect = new_sales
        parcels = upstreams.mock.post(f"{CUBYN_URL}/parcels").respond(201, json=PARCEL)
        assert await poll.import_connections(rt, [connection_id]) == {"lease_lost": 1}
    finally:
        await rt.close()
    assert not parcels.called
    async with sessions() as session:
        assert (await session.scalars(select(Order.id))).all() == []
    connection = await _read(sessions, connection_id)
    assert (connection.lease_owner, connection.last_import_at) == ("other-worker", None)


def _importable_sales(count: int) -> bytes:
    """Rakuten's answer with `count` importable purchases (copies of its first sale, renumbered)."""
    xml = _listed_twice(MANY_SALES)
    first = xml[xml.index(b"<sale>") : xml.index(b"</sale>") + len(b"</sale>")]
    copies = [
        first.replace(b"31862101", b"%d" % (50_000_000 + n)).replace(b"<itemid>2603060", b"<itemid>%d" % n)
        for n in range(1, count + 1)
    ]
    head, tail = xml[: xml.index(b"<sales>") + len(b"<sales>")], xml[xml.index(b"</sales>") :]
    return head + b"".join(copies) + tail


async def test_a_long_answer_is_recorded_in_parts_each_committed_before_cubyn_is_asked_for_its_parcels(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], upstreams: Upstreams, monkeypatch: Any
) -> None:
    monkeypatch.setattr(poll, "RECORD_CHUNK", 2)
    connection_id = await _connection(rt, cubyn_api_key_enc=rt.box.encrypt(GOOD_KEY))
    upstreams.rakuten.side_effect = None
    upstreams.rakuten.return_value = httpx.Response(200, content=_importable_sales(5))
    uncommitted: list[str] = []
    parts: list[int] = []
    record = recording.record_sales

    async def counted(session: AsyncSession, connection_id: str, sales: Any, now: Any) -> Any:
        parts.append(len(sales))
        return await record(session, connection_id, sales, now)

    async def create_parcel(request: httpx.Request) -> httpx.Response:
        order_ref = json.loads(request.content)["orderRef"]
        purchase_id = order_ref.removeprefix("RAKUTEN-")
        async with sessions() as session:  # a connection of its own: it sees only what is committed
            if await session.scalar(select(Order.id).where(Order.purchase_id == purchase_id)) is None:
                uncommitted.append(order_ref)
        return httpx.Response(201, json=PARCEL | {"id": int(purchase_id), "orderRef": order_ref})

    monkeypatch.setattr(poll, "record_sales", counted)
    upstreams.mock.post(f"{CUBYN_URL}/parcels").side_effect = create_parcel
    outcome = await poll.import_connection(rt, connection_id)
    assert outcome.startswith("ok: 5 sale(s), 5 new"), outcome
    assert parts == [2, 2, 1]
    assert uncommitted == []
    async with sessions() as session:
        states = (await session.scalars(select(Order.state).where(Order.connection_id == connection_id))).all()
    assert list(states) == [OrderState.IMPORTED.value] * 5


def _with_an_accepted_order(rt: Runtime) -> Any:
    """Give the connection an open order, so that its import also scans Rakuten's current sales."""

    async def add(connection_id: str) -> None:
        async with rt.sessions() as session:
            item = OrderItem(item_id="i1", sku="SKU-1", rakuten_status="ACCEPTED")
            order = Order(connection_id=connection_id, purchase_id="31900003", state=OrderState.ACCEPTED.value)
            order.imported_at, order.items = utcnow(), [item]
            session.add(order)
            await session.commit()

    return add


async def test_new_orders_get_their_parcels_before_the_scan_and_a_failing_scan_does_not_hold_them_back(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], upstreams: Upstreams
) -> None:
    connection_id = await _connection(rt, cubyn_api_key_enc=rt.box.encrypt(GOOD_KEY))
    await _with_an_accepted_order(rt)(connection_id)
    upstreams.rakuten.side_effect = None
    upstreams.rakuten.return_value = httpx.Response(200, content=_importable_sales(3))
    steps: list[str] = []

    def create_parcel(request: httpx.Request) -> httpx.Response:
        steps.append("parcel")
        order_ref = json.loads(request.content)["orderRef"]
        return httpx.Response(
            201, json=PARCEL | {"id": int(order_ref.removeprefix("RAKUTEN-")), "orderRef": order_ref}
        )

    def current_sales(request: httpx.Request) -> httpx.Response:
        steps.append("scan")
        return httpx.Response(503)

    upstreams.mock.post(f"{CUBYN_URL}/parcels").side_effect = create_parcel
    upstreams.mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": "getcurrentsales"}).side_effect = current_sales
    assert await poll.import_connection(rt, connection_id) == "rakuten_error"
    assert steps[:3] == ["parcel"] * 3
    assert set(steps[3:]) == {"scan"}
    async with sessions() as session:
        query = select(Order.state).where(Order.connection_id == connection_id, Order.purchase_id != "31900003")
        assert list((await session.scalars(query)).all()) == [OrderState.IMPORTED.value] * 3
    assert (await _read(sessions, connection_id)).import_failures == 1  # the scan is tried again, with backoff


async def test_cubyn_refusing_the_key_stops_the_parcel_batches_and_the_import_and_says_why(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], upstreams: Upstreams, monkeypatch: Any
) -> None:
    monkeypatch.setattr(parcel_creation, "PARCEL_BATCH", 2)
    monkeypatch.setattr(parcel_creation, "BATCHES_IN_FLIGHT", 2)
    connection_id = await _connection(rt, cubyn_api_key_enc=rt.box.encrypt(GOOD_KEY))
    await _with_an_accepted_order(rt)(connection_id)
    upstreams.rakuten.side_effect = None
    upstreams.rakuten.return_value = httpx.Response(200, content=_importable_sales(6))
    refused = upstreams.mock.post(f"{CUBYN_URL}/parcels").respond(401, json={"message": "Unauthorized"})
    scan = upstreams.mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": "getcurrentsales"})
    assert await poll.import_connection(rt, connection_id) == "credentials_invalid"
    assert refused.call_count == 4  # the two batches in flight; the third never calls Cubyn
    assert scan.call_count == 0
    connection = await _read(sessions, connection_id)
    assert connection.state == ConnectionState.CREDENTIALS_INVALID.value
    assert connection.last_import_error is not None
    assert "Cubyn" in connection.last_import_error
    assert connection.lease_owner is None
    async with sessions() as session:
        query = select(Order.attempts).where(Order.connection_id == connection_id, Order.purchase_id != "31900003")
        assert sorted((await session.scalars(query)).all()) == [0, 0, 1, 1, 1, 1]


async def test_rakuten_refusing_the_token_as_a_new_parcel_is_accepted_ends_the_import_as_credentials_invalid(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], upstreams: Upstreams
) -> None:
    connection_id = await _connection(rt, cubyn_api_key_enc=rt.box.encrypt(GOOD_KEY))
    upstreams.rakuten.side_effect = None
    upstreams.rakuten.return_value = httpx.Response(200, content=_importable_sales(1))

    def validated_at_once(request: httpx.Request) -> httpx.Response:
        order_ref = json.loads(request.content)["orderRef"]
        passed = {"address": {"status": "PASSED"}, "stock": {"status": "PASSED"}}
        body = PARCEL | {"orderRef": order_ref, "validations": passed, "validatedAt": "2026-11-27T10:00:01Z"}
        return httpx.Response(201, json=body)

    upstreams.mock.post(f"{CUBYN_URL}/parcels").side_effect = validated_at_once
    accept = upstreams.mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": "acceptsale"})
    accept.respond(200, content=BAD_USER)  # the token was revoked between the two calls
    assert await poll.import_connection(rt, connection_id) == "credentials_invalid"
    assert accept.call_count == 1
    connection = await _read(sessions, connection_id)
    assert (connection.state, connection.state_reason) == (
        ConnectionState.CREDENTIALS_INVALID.value,
        REFUSED_BY["rakuten"],
    )
    assert connection.lease_owner is None
