"""The Rakuten client against the Rakuten sandbox over real HTTP (uvicorn on a free port), every action."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from rakuten_connector.clients.rakuten import (
    RakutenClient,
    RakutenCredentialsError,
    RakutenInvalidResponse,
    RakutenItemStateError,
    RakutenQuotaExceeded,
    RakutenTransientError,
)
from rakuten_connector.clients.rakuten_models import ItemOutcome, TrackingUpdate
from rakuten_connector.sandbox.rakuten.app import create_rakuten_sandbox
from rakuten_connector.sandbox.serve import serve

_logins = itertools.count(1)


@pytest.fixture(scope="module")
async def sandbox_url() -> AsyncIterator[str]:
    async with serve(create_rakuten_sandbox(seed=3)) as url:
        yield url


@pytest.fixture
async def control(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox_url) as http:
        yield http
        await http.delete("/_sandbox/faults")


async def new_seller(control: httpx.AsyncClient, **options: Any) -> tuple[str, str]:
    login, token = f"shop-{next(_logins)}", f"token-{next(_logins)}"
    response = await control.post("/_sandbox/sellers", json={"login": login, "token": token, **options})
    assert response.status_code == 201
    return login, token


async def test_credentials(control: httpx.AsyncClient, sandbox_url: str) -> None:
    login, token = await new_seller(control)
    await RakutenClient(sandbox_url, login, SecretStr(token)).check_credentials()
    with pytest.raises(RakutenCredentialsError):
        await RakutenClient(sandbox_url, login, SecretStr("wrong")).check_credentials()


async def test_order_actions(control: httpx.AsyncClient, sandbox_url: str) -> None:
    login, token = await new_seller(control)
    generated = await control.post(
        f"/_sandbox/sellers/{login}/sales/generate",
        json={"count": 6, "seed": 5, "item_status": "TO_CONFIRM", "multi_unit_rate": 1, "multi_sku_rate": 0},
    )
    assert generated.status_code == 201
    async with httpx.AsyncClient() as shared:
        client = RakutenClient(sandbox_url, login, SecretStr(token), http=shared, timeout=5)
        sales = await client.get_new_sales()
        assert len(sales) == 6
        assert all(len(s.items) >= 2 for s in sales)
        assert {s.purchase_id for s in sales} == {s["purchase_id"] for s in generated.json()["sales"]}
        assert all(s.purchased_at is not None and s.purchased_at <= datetime.now(UTC) for s in sales)
        first, second, third, fourth, *_ = sales

        # accept (twice: harmless), push tracking (twice: harmless), cancel, refuse.
        for item in first.items:
            assert await client.accept_item(item.item_id) is ItemOutcome.DONE
        assert await client.accept_item(first.items[0].item_id) is ItemOutcome.ALREADY_DONE
        updates = [
            TrackingUpdate(i.item_id, first.purchase_id, "Cubyn", f"CUB{i.item_id}", f"https://t/CUB{i.item_id}")
            for i in first.items
        ]
        assert await client.send_tracking_file(updates)
        # Sent again: the file is refused, and each item says its tracking is already known.
        assert not await client.send_tracking_file(updates)
        assert {await client.set_tracking(update) for update in updates} == {ItemOutcome.ALREADY_DONE}
        info = await client.get_item_info(first.items[0].item_id)
        assert (info.item_id, info.status, info.shipped) == (first.items[0].item_id, "ACCEPTED", True)

        item = second.items[0]
        await client.accept_item(item.item_id)
        tracking = TrackingUpdate(item.item_id, second.purchase_id, "Colissimo", "6A123")
        assert await client.cancel_item(item.item_id, "Produit cassé, désolé.") is ItemOutcome.DONE
        assert await client.cancel_item(item.item_id, "Produit cassé, désolé.") is ItemOutcome.ALREADY_DONE
        with pytest.raises(RakutenItemStateError) as cancelled:
            await client.set_tracking(tracking)
        assert cancelled.value.item_status == "CANCELLED"

        assert await client.refuse_item(third.items[0].item_id) is ItemOutcome.DONE
        assert await client.refuse_item(third.items[0].item_id) is ItemOutcome.ALREADY_DONE

        # Tracking before acceptance, and a buyer's cancellation.
        waiting = fourth.items[0]
        with pytest.raises(RakutenItemStateError) as early:
            await client.set_tracking(TrackingUpdate(waiting.item_id, fourth.purchase_id, "Cubyn", "CUB9"))
        assert early.value.item_status == "TO_CONFIRM"
        await control.post(f"/_sandbox/sellers/{login}/items/{waiting.item_id}/buyer-cancel")
        with pytest.raises(RakutenItemStateError) as gone:
            await client.accept_item(waiting.item_id)
        assert gone.value.item_status == "CANCELLED"
        assert not shared.is_closed

        # getcurrentsales: every sale past acceptance, over several pages.
        await control.put("/_sandbox/settings", json={"sales_page_size": 2})
        try:
            current = [sale async for sale in client.iter_current_sales()]
        finally:
            await control.put("/_sandbox/settings", json={"sales_page_size": 100})
        assert {s.purchase_id for s in current} == {s.purchase_id for s in (first, second, third, fourth)}
        statuses = {i.item_id: i.status for s in current for i in s.items}
        assert statuses[first.items[0].item_id] == "ACCEPTED"
        assert statuses[item.item_id] == "CANCELLED"
        assert statuses[third.items[0].item_id] == "REFUSED"

    calls = (await control.get("/_sandbox/calls", params={"login": login})).json()["calls"]
    assert {c["action"] for c in calls} >= {
        "getnewsales", "acceptsale", "importitemshippingstatus", "settrackingpackageinfos", "getiteminfos",
        "cancelitem", "refusesale", "getcurrentsales",
    }  # fmt: skip
    assert all(token not in str(c) for c in calls)


BILLING = {"lastname": "Lefèvre", "firstname": "Hélène", "address1": "12 rue de la République", "city": "Lyon"}
RELAY = {"id": "FR-012345", "name": "Tabac Presse de la Gare", "zipcode": "69002", "city": "Lyon"}


async def test_sales_of_any_shipping_type(control: httpx.AsyncClient, sandbox_url: str) -> None:
    """A seller's own mode and spacing variants come back exactly as Rakuten spelled them, with the address
    blocks of their kind; a So Colissimo sale with a relay point too."""
    login, token = await new_seller(control)
    bodies: list[dict[str, Any]] = [
        {"shipping_type": "Mode personnalisé 1"},
        {"shipping_type": "So   Colissimo"},
        {"shipping_type": "So Colissimo", "billing_address": BILLING, "relay_point": RELAY},
        {"shipping_type": "point relais MONDIAL relay"},
    ]
    sales = {"sales": [{"items": [{"sku": "SKU-1"}], **body} for body in bodies]}
    created = (await control.post(f"/_sandbox/sellers/{login}/sales", json=sales)).json()["sales"]
    client = RakutenClient(sandbox_url, login, SecretStr(token))
    by_id = {sale.purchase_id: sale for sale in await client.get_new_sales()}
    read = [by_id[sale["purchase_id"]] for sale in created]
    assert [sale.shipping_type for sale in read] == [body["shipping_type"] for body in bodies]
    assert [
        (s.delivery_address is not None, s.billing_address is not None, s.relay_point is not None) for s in read
    ] == [(True, False, False), (False, True, False), (False, True, True), (False, True, True)]
    so_colissimo = read[2]
    assert so_colissimo.billing_address is not None
    assert so_colissimo.relay_point is not None
    assert (so_colissimo.billing_address.last_name, so_colissimo.relay_point.id) == ("Lefèvre", "FR-012345")


async def test_only_a_refused_action_reads_the_item_and_its_messages(
    control: httpx.AsyncClient, sandbox_url: str
) -> None:
    """getiteminfos marks the buyer's messages read: the client's routine calls leave them unread; the
    item is read only when Rakuten refuses an action on it."""
    login, token = await new_seller(control)
    sale = await control.post(f"/_sandbox/sellers/{login}/sales", json={"sales": [{"items": [{"sku": "SKU-1"}]}]})
    item_id = sale.json()["sales"][0]["items"][0]["item_id"]
    item_url = f"/_sandbox/sellers/{login}/items/{item_id}"
    await control.post(f"{item_url}/messages", json={"content": "Pouvez-vous livrer samedi ?"})
    client = RakutenClient(sandbox_url, login, SecretStr(token))
    await client.get_new_sales()
    assert await client.accept_item(item_id) is ItemOutcome.DONE
    assert [current async for current in client.iter_current_sales()]
    assert await client.send_tracking_file([TrackingUpdate(item_id, "1", "Cubyn", "CUB1", "https://t/CUB1")])
    assert (await control.get(item_url)).json()["messages"][0]["read"] is False
    assert await client.accept_item(item_id) is ItemOutcome.ALREADY_DONE  # refused, then read
    assert (await control.get(item_url)).json()["messages"][0]["read"] is True
    calls = (await control.get("/_sandbox/calls", params={"login": login, "action": "getiteminfos"})).json()
    assert len(calls["calls"]) == 1


async def test_stock_actions(control: httpx.AsyncClient, sandbox_url: str) -> None:
    login, token = await new_seller(control)
    inventory = {"adverts": [{"sku": "SKU-é", "stock": 1}], "generate": {"count": 2300, "seed": 2}}
    await control.put(f"/_sandbox/sellers/{login}/inventory", json=inventory)
    client = RakutenClient(sandbox_url, login, SecretStr(token))
    count, first = 0, None
    async for advert in client.iter_export():
        count += 1
        first = first or advert
    assert count == 2301
    assert first is not None
    assert (first.sku, first.stock) == ("SKU-é", 1)

    result = await client.upload_stock({"SKU-é": 9, "SKU-000001": 0, "UNKNOWN-SKU": 5})
    report = await client.get_import_report(result.import_id)
    assert (report.processed, report.file_status) == (False, "Reçu")
    await control.post("/_sandbox/clock", json={"advance_seconds": 5})
    report = await client.get_import_report(result.import_id)
    assert (report.processed, report.file_status, report.total_lines, report.error_lines) == (True, "Traité", 3, 1)
    assert {(p.sku, p.ok, p.no_offer) for p in report.products} == {
        ("SKU-é", True, False),
        ("SKU-000001", True, False),
        ("UNKNOWN-SKU", False, True),
    }
    [unknown] = [p for p in report.products if not p.ok]
    assert [(e.key, e.code, e.text) for e in unknown.errors] == [
        ("alias", "60", "L'alias est obligatoire pour les créations de produit.")
    ]
    adverts = {a.sku: a.stock async for a in client.iter_export()}
    assert (adverts["SKU-é"], adverts["SKU-000001"]) == (9, 0)


async def test_quota_is_typed_with_the_next_hour(control: httpx.AsyncClient, sandbox_url: str) -> None:
    login, token = await new_seller(control, quota_per_hour=1)
    client = RakutenClient(sandbox_url, login, SecretStr(token))
    await client.get_new_sales()
    with pytest.raises(RakutenQuotaExceeded) as caught:
        await client.get_new_sales()
    now = datetime.now(UTC)
    assert caught.value.retry_at > now
    assert caught.value.retry_at.minute == 0
    assert caught.value.retry_at.tzinfo is not None


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        ({"error_rate": 1}, RakutenTransientError),
        ({"garbled_rate": 1}, RakutenInvalidResponse),
        ({"truncated_rate": 1}, RakutenInvalidResponse),
        ({"timeout_rate": 1, "timeout_seconds": 5}, RakutenTransientError),
        ({"quota_exhausted": True}, RakutenQuotaExceeded),
    ],
)
async def test_faults_are_typed_then_recovered(
    control: httpx.AsyncClient, sandbox_url: str, faults: dict[str, Any], error: type[Exception]
) -> None:
    login, token = await new_seller(control)
    await control.put(f"/_sandbox/sellers/{login}/inventory", json={"generate": {"count": 10}})
    await control.put("/_sandbox/faults", json={**faults, "times": 1, "logins": [login]})
    # Only the call that must time out gets a short timeout: under load, connecting alone can take longer.
    short = "timeout_rate" in faults
    client = RakutenClient(sandbox_url, login, SecretStr(token), timeout=0.3 if short else 20.0)
    with pytest.raises(error):
        [advert async for advert in client.iter_export()]
    again = RakutenClient(sandbox_url, login, SecretStr(token))
    assert len([advert async for advert in again.iter_export()]) == 10


async def test_canary_never_leaks_over_http(
    control: httpx.AsyncClient,
    sandbox_url: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    canary = "CANARY-over-http-5b2e"
    login, _ = await new_seller(control)
    await control.patch(f"/_sandbox/sellers/{login}", json={"token": canary})
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    client = RakutenClient(sandbox_url, login, SecretStr(canary), timeout=0.3)
    errors: list[Exception] = []
    await RakutenClient(sandbox_url, login, SecretStr(canary)).get_new_sales()
    for faults in ({"error_rate": 1}, {"garbled_rate": 1}, {"timeout_rate": 1, "timeout_seconds": 5}):
        await control.put("/_sandbox/faults", json={**faults, "times": 1})
        try:
            await client.get_new_sales()
        except RakutenTransientError as exc:
            errors.append(exc)
    try:
        await RakutenClient(sandbox_url, login, SecretStr(canary + "x")).get_new_sales()
    except RakutenCredentialsError as exc:
        errors.append(exc)
    assert len(errors) == 4
    captured = capsys.readouterr()
    assert "pwd=***" in caplog.text  # httpx did log the request, redacted
    for text in [caplog.text, captured.out, captured.err, *map(str, errors), *map(repr, errors)]:
        assert canary not in text
    assert canary not in (await control.get("/_sandbox/calls")).text
