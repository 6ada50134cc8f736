"""The Rakuten sandbox: Rakuten's rules, Rakuten-looking answers, faults on demand and its control API."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import httpx
import pytest
from lxml import etree

from rakuten_connector.sandbox.rakuten.app import create_rakuten_sandbox
from rakuten_connector.sandbox.rakuten.contract import VERSIONS
from rakuten_connector.sandbox.rakuten.faker import (
    ALL_TYPES,
    BILLING_ONLY_TYPES,
    CUSTOM_TYPES,
    HOME_TYPES,
    RELAY_TYPES,
)
from rakuten_connector.sandbox.rakuten.shipping import AddressBlocks, address_blocks
from rakuten_connector.sandbox.rakuten.simulator import RakutenSandbox
from tests.sandbox.rakuten.helpers import (
    LOGIN,
    TOKEN,
    add_sale,
    error_code,
    root_of,
    seller,
    texts,
    unreadable,
    ws,
)


async def test_bad_credentials_answer_errorresponse_with_http_200(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http)
    for login, token in ((LOGIN, "wrong"), ("nobody", TOKEN), (LOGIN, "")):
        response = await ws(rakuten_http, "getnewsales", login=login, token=token)
        assert response.status_code == 200
        assert error_code(response) == "InvalidUserConnection"
        assert texts(response, "message") == ["Unknown user or password."]


async def test_answers_look_like_rakuten(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http)
    await add_sale(rakuten_http, buyer_login="Hélène", shipping_type="Recommandé")
    response = await ws(rakuten_http, "getnewsales")
    assert response.content.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")
    assert "Hélène".encode("iso-8859-1") in response.content
    assert b"<![CDATA[\n" in response.content
    assert b"<phonenumber2/>" in response.content
    root = root_of(response)
    assert root.tag == "{http://pmcdn.priceminister.com/res/schema/getnewsales}getnewsalesresult"
    assert texts(response, "shippingtype") == ["Recommandé"]
    assert texts(response, "purchasebuyerlogin") == ["Hélène"]
    export = await ws(rakuten_http, "export")
    assert etree.QName(root_of(export)).namespace == "https://fr.shopping.rakuten.com/res/schema/export"


async def test_versions_and_actions_are_checked(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http)
    query = {"action": "getnewsales", "login": LOGIN, "pwd": TOKEN, "version": "2011-01-01"}
    assert error_code(await rakuten_http.get("/sales_ws", params=query)) == "ParameterError"
    query = {**query, "action": "export", "version": VERSIONS["export"]}
    assert error_code(await rakuten_http.get("/sales_ws", params=query)) == "ParameterError"  # wrong endpoint


async def test_item_rules(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http)
    sale = await add_sale(rakuten_http, items=[{"sku": "A", "quantity": 3}])
    first, second, third = (item["item_id"] for item in sale["items"])
    # Tracking and cancellation need an accepted item.
    assert error_code(await ws(rakuten_http, "cancelitem", itemid=first, comment="Rupture")) == "ParameterError"
    tracking: dict[str, Any] = {
        "transporter_name": "Cubyn",
        "tracking_number": "CUB1",
        "tracking_url": "https://t/CUB1",
    }
    refused = await ws(rakuten_http, "settrackingpackageinfos", itemid=first, **tracking)
    assert "statut incorrect" in texts(refused, "detail")[0]
    # Accept: once.
    assert error_code(await ws(rakuten_http, "acceptsale", itemid=first)) == "ParameterError"  # no country
    assert texts(await ws(rakuten_http, "acceptsale", itemid=first, shippingfromcountry="249"), "status") == [
        "Accepted"
    ]
    assert (
        error_code(await ws(rakuten_http, "acceptsale", itemid=first, shippingfromcountry="249"))
        == "ParameterError"
    )
    assert error_code(await ws(rakuten_http, "refusesale", itemid=first)) == "ParameterError"
    # Tracking: once.
    assert texts(await ws(rakuten_http, "settrackingpackageinfos", itemid=first, **tracking), "status") == ["OK"]
    again = await ws(rakuten_http, "settrackingpackageinfos", itemid=first, **tracking)
    assert texts(again, "detail") == [f"Article {first} : a déjà été expédié"]
    info = await ws(rakuten_http, "getiteminfos", itemid=first)
    assert (texts(info, "itemstatus"), texts(info, "shipped")) == (["ACCEPTED"], ["1"])
    assert texts(info, "trackingnumber") == []  # getiteminfos has no tracking field
    # Refuse a waiting item; cancel an accepted one (comment required, 400 characters at most).
    assert texts(await ws(rakuten_http, "refusesale", itemid=second), "status") == ["Refused"]
    await ws(rakuten_http, "acceptsale", itemid=third, shippingfromcountry="249")
    assert error_code(await ws(rakuten_http, "cancelitem", itemid=third, comment="x" * 401)) == "ParameterError"
    assert texts(await ws(rakuten_http, "cancelitem", itemid=third, comment="Rupture"), "status") == ["CANCELLED"]
    assert error_code(await ws(rakuten_http, "getiteminfos", itemid="999")) == "ParameterError"
    listed = (await rakuten_http.get(f"/_sandbox/sellers/{LOGIN}/sales")).json()["sales"][0]["items"]
    assert [i["status"] for i in listed] == ["ACCEPTED", "REFUSED", "CANCELLED"]


async def test_tracking_file_applies_valid_lines_and_reports_the_others(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http)
    sale = await add_sale(rakuten_http)
    accepted, waiting = (item["item_id"] for item in sale["items"])
    await ws(rakuten_http, "acceptsale", itemid=accepted, shippingfromcountry="249")
    lines = "".join(
        f"<item><purchaseid>{sale['purchase_id']}</purchaseid><itemid>{i}</itemid><transporter>Cubyn</transporter>"
        f"<trackingnumber>CUB{i}</trackingnumber></item>"
        for i in (accepted, waiting)
    )
    response = await ws(rakuten_http, "importitemshippingstatus", file=f"<items>{lines}</items>".encode())
    assert error_code(response) == "ParameterError"
    assert texts(response, "detail") == [f"Article {waiting} : statut incorrect (TO_CONFIRM)"]
    item = (await rakuten_http.get(f"/_sandbox/sellers/{LOGIN}/items/{accepted}")).json()
    assert item["tracking"]["number"] == f"CUB{accepted}"
    ok = await ws(rakuten_http, "importitemshippingstatus", file=b"<items/>")
    assert (etree.QName(root_of(ok)).localname, texts(ok, "status")) == ("importresult", ["OK"])
    missing = await rakuten_http.post("/sales_ws", params={"action": "importitemshippingstatus", "login": LOGIN,
                                                           "pwd": TOKEN, "version": "2016-05-09"})  # fmt: skip
    assert error_code(missing) == "ParameterError"


async def test_new_sales_window_and_acceptance_deadline(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http)
    recent = await add_sale(rakuten_http, age_minutes=60)
    old = await add_sale(rakuten_http, age_minutes=50 * 60)
    accepted = await add_sale(rakuten_http, items=[{"sku": "B", "status": "ACCEPTED"}])
    assert texts(await ws(rakuten_http, "getnewsales"), "purchaseid") == [recent["purchase_id"]]
    current = texts(await ws(rakuten_http, "getcurrentsales"), "purchaseid")
    assert sorted(current) == sorted([old["purchase_id"], accepted["purchase_id"]])  # old: cancelled by Rakuten
    items = (await rakuten_http.get(f"/_sandbox/sellers/{LOGIN}/items/{old['items'][0]['item_id']}")).json()
    assert items["status"] == "CANCELLED"
    await rakuten_http.post("/_sandbox/clock", json={"advance_seconds": 48 * 3600})
    assert texts(await ws(rakuten_http, "getnewsales"), "purchaseid") == []


async def test_current_sales_pages_and_date_filter(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http)
    await rakuten_http.put("/_sandbox/settings", json={"sales_page_size": 2})
    ids = [(await add_sale(rakuten_http, items=[{"status": "ACCEPTED"}]))["purchase_id"] for _ in range(5)]
    seen, token, pages = [], "", 0
    while True:
        page: dict[str, Any] = {"nexttoken": token} if token else {}
        response = await ws(rakuten_http, "getcurrentsales", **page)
        seen += texts(response, "purchaseid")
        token, pages = texts(response, "nexttoken")[0], pages + 1
        if not token:
            break
    assert (sorted(seen), pages) == (sorted(ids), 3)
    assert texts(await ws(rakuten_http, "getcurrentsales", purchasedate="2999-01-01"), "purchaseid") == []
    assert error_code(await ws(rakuten_http, "getcurrentsales", nexttoken="forged")) == "ParameterError"


async def test_buyer_cancel_and_forced_status(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http)
    first, second = (i["item_id"] for i in (await add_sale(rakuten_http))["items"])
    cancelled = await rakuten_http.post(f"/_sandbox/sellers/{LOGIN}/items/{first}/buyer-cancel")
    assert cancelled.json()["status"] == "CANCELLED"
    await ws(rakuten_http, "acceptsale", itemid=second, shippingfromcountry="249")
    assert (await rakuten_http.post(f"/_sandbox/sellers/{LOGIN}/items/{second}/buyer-cancel")).status_code == 409
    claim = await rakuten_http.post(f"/_sandbox/sellers/{LOGIN}/items/{second}/status", json={"status": "CLAIM"})
    assert claim.json()["status"] == "CLAIM"


async def test_hourly_quota_per_seller(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http, quota_per_hour=2)
    await seller(rakuten_http, login="other", token="t2")
    assert [root_of(await ws(rakuten_http, "getnewsales")).tag.endswith("result") for _ in range(2)] == [
        True,
        True,
    ]
    exhausted = await ws(rakuten_http, "getnewsales")
    assert (exhausted.status_code, error_code(exhausted), texts(exhausted, "message")) == (
        200,
        "InvalidUserRights",
        ["Quota exceeded."],
    )
    assert root_of(await ws(rakuten_http, "getnewsales", login="other", token="t2")).tag.endswith("result")
    await rakuten_http.post("/_sandbox/clock", json={"advance_seconds": 3600})
    assert root_of(await ws(rakuten_http, "getnewsales")).tag.endswith("result")
    await rakuten_http.patch(f"/_sandbox/sellers/{LOGIN}", json={"quota_per_hour": None})
    assert (await rakuten_http.get(f"/_sandbox/sellers/{LOGIN}")).json()["quota_per_hour"] is None


async def test_stock_files_are_processed_after_a_delay(rakuten_http: httpx.AsyncClient) -> None:
    # Files are counted per clock hour: the sandbox's clock starts this test at the top of an hour, so the
    # quota is not reset by an hour that turns while a slow machine runs it.
    now = datetime.fromisoformat((await rakuten_http.get("/_sandbox/clock")).json()["now"])
    into_hour = now.minute * 60 + now.second + now.microsecond / 1e6
    await rakuten_http.post("/_sandbox/clock", json={"advance_seconds": 3600 - into_hour + 1})
    await seller(rakuten_http, files_per_hour=2)
    inventory = {"adverts": [{"sku": "SKU-1", "stock": 3}], "generate": {"count": 2500, "seed": 1}}
    assert (await rakuten_http.put(f"/_sandbox/sellers/{LOGIN}/inventory", json=inventory)).json() == {
        "total": 2501
    }
    file = (
        b"<items>"
        + b"".join(
            f"<item><attributes><advert><attribute><key>sellerReference</key><value><![CDATA[{sku}]]></value>"
            f"</attribute><attribute><key>qty</key><value>{qty}</value></attribute></advert></attributes></item>".encode()
            for sku, qty in (("SKU-1", 12), ("UNKNOWN", 4))
        )
        + b"</items>"
    )
    import_id = texts(await ws(rakuten_http, "genericimportfile", file=file), "importid")[0]
    pending = await ws(rakuten_http, "genericimportreport", fileid=import_id)
    assert texts(pending, "status") == ["Reçu"]
    assert texts(pending, "product") == []
    await rakuten_http.post("/_sandbox/clock", json={"advance_seconds": 2})
    report = await ws(rakuten_http, "genericimportreport", fileid=import_id)
    assert texts(report, "status") == ["Traité", "Traité", "Erreur"]
    # A SKU without an offer: Rakuten's error code 60, key `alias`.
    assert (texts(report, "error_key"), texts(report, "error_code"), texts(report, "error_text")) == (
        ["alias"],
        ["60"],
        ["L'alias est obligatoire pour les créations de produit."],
    )
    stock = (await rakuten_http.get(f"/_sandbox/sellers/{LOGIN}/inventory", params={"sku": "SKU-1"})).json()
    assert stock["adverts"][0]["stock"] == 12
    uploads = (await rakuten_http.get(f"/_sandbox/sellers/{LOGIN}/uploads")).json()["uploads"]
    assert uploads[0]["lines"] == [{"sku": "SKU-1", "qty": "12"}, {"sku": "UNKNOWN", "qty": "4"}]
    # Export pages of 1,000 adverts.
    pages = [await ws(rakuten_http, "export")]
    while token := texts(pages[-1], "nexttoken")[0]:
        pages.append(await ws(rakuten_http, "export", nexttoken=token))
    assert [len(texts(p, "advert")) for p in pages] == [1000, 1000, 501]
    # At most N files an hour; hostile files are refused.
    assert (
        error_code(await ws(rakuten_http, "genericimportfile", file=b"<!DOCTYPE x []><items/>"))
        == "ParameterError"
    )
    quota = await ws(rakuten_http, "genericimportfile", file=file)
    assert texts(quota, "message") == ["Quota exceeded."]


async def test_unknown_report_is_a_parameter_error(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http)
    assert error_code(await ws(rakuten_http, "genericimportreport", fileid="nope")) == "ParameterError"


@pytest.mark.parametrize(
    ("faults", "check"),
    [
        ({"error_rate": 1}, lambda r: r.status_code >= 500),
        ({"garbled_rate": 1}, lambda r: r.status_code == 200 and unreadable(r)),
        ({"truncated_rate": 1}, lambda r: r.status_code == 200 and unreadable(r)),
        ({"timeout_rate": 1, "timeout_seconds": 0.05}, lambda r: r.status_code == 504),
        ({"quota_exhausted": True}, lambda r: b"Quota exceeded." in r.content),
        ({"latency_seconds": 0.01}, lambda r: r.status_code == 200 and b"getnewsalesresult" in r.content),
    ],
)
async def test_faults_on_demand(rakuten_http: httpx.AsyncClient, faults: dict[str, Any], check: Any) -> None:
    await seller(rakuten_http)
    assert (await rakuten_http.put("/_sandbox/faults", json={**faults, "times": 1})).status_code == 200
    assert check(await ws(rakuten_http, "getnewsales"))
    healthy = await ws(rakuten_http, "getnewsales")
    assert healthy.status_code == 200
    assert etree.QName(root_of(healthy)).localname == "getnewsalesresult"


async def test_faults_can_target_actions_and_sellers(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http)
    await seller(rakuten_http, login="other", token="t2")
    await rakuten_http.put("/_sandbox/faults", json={"error_rate": 1, "actions": ["export"], "logins": [LOGIN]})
    assert (await ws(rakuten_http, "export")).status_code >= 500
    assert (await ws(rakuten_http, "getnewsales")).status_code == 200
    assert (await ws(rakuten_http, "export", login="other", token="t2")).status_code == 200
    assert (await rakuten_http.delete("/_sandbox/faults")).json()["error_rate"] == 0
    assert (await ws(rakuten_http, "export")).status_code == 200


async def test_call_log_never_holds_the_token(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http, token="CANARY-sandbox-token")
    await ws(rakuten_http, "getnewsales", token="CANARY-sandbox-token")
    await ws(rakuten_http, "getiteminfos", token="CANARY-sandbox-token", itemid="42")
    await ws(rakuten_http, "getnewsales", token="CANARY-wrong")
    log = await rakuten_http.get("/_sandbox/calls", params={"login": LOGIN})
    assert "CANARY" not in log.text
    calls = log.json()["calls"]
    assert [(c["action"], c["result"]) for c in calls] == [
        ("getnewsales", "ok"),
        ("getiteminfos", "ParameterError"),
        ("getnewsales", "InvalidUserConnection"),
    ]
    assert calls[1]["params"] == {"version": "2017-08-07", "itemid": "42"}
    assert len((await rakuten_http.get("/_sandbox/calls", params={"action": "getiteminfos"})).json()["calls"]) == 1


async def test_generator_is_realistic_and_deterministic(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http)
    options = {"count": 300, "seed": 42, "empty_sku_rate": 0.1, "nego_rate": 0.1}
    sales = (await rakuten_http.post(f"/_sandbox/sellers/{LOGIN}/sales/generate", json=options)).json()["sales"]
    other = create_rakuten_sandbox()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="http://other.test") as http:
        await seller(http)
        again = (await http.post(f"/_sandbox/sellers/{LOGIN}/sales/generate", json=options)).json()["sales"]
    strip = [{k: v for k, v in s.items() if k != "purchased_at"} for s in sales]
    assert strip == [{k: v for k, v in s.items() if k != "purchased_at"} for s in again]
    types = Counter(s["shipping_type"] for s in sales)
    assert set(types) == set(ALL_TYPES)
    assert {"Mode personnalisé 1", "So   Colissimo"} <= set(types)
    for sale in sales:
        kind = sale["shipping_type"]
        blocks = address_blocks(kind)
        assert (sale["relay_point"] is not None) == (kind in RELAY_TYPES or kind == "Shop2Shop by Chronopost")
        assert (sale["relay_point"] is not None) == (blocks is AddressBlocks.RELAY)
        assert (sale["delivery_address"] is not None) == (kind in HOME_TYPES or kind in CUSTOM_TYPES)
        if kind in BILLING_ONLY_TYPES or sale["relay_point"]:
            assert sale["billing_address"] is not None
    items = [i for s in sales for i in s["items"]]
    assert any(i["sku"] == "" for i in items)
    assert any(i["is_nego"] for i in items)
    assert any(
        Counter(i["sku"] for i in s["items"] if i["sku"]).most_common(1)[0][1] > 1
        for s in sales
        if s["items"][0]["sku"]
    )
    names = " ".join(s["billing_address"]["lastname"] + s["billing_address"]["city"] for s in sales)
    assert any(c in names for c in "éèêëçüôÉ")
    assert {s["billing_address"]["countryalpha2"] for s in sales} >= {"FX", "FR"}
    # The XML of these sales is readable ISO-8859-1, even with characters outside it (the en dash).
    response = await ws(rakuten_http, "getnewsales")
    assert len(texts(response, "sale")) == sum(
        1 for s in sales if any(i["status"] != "CANCELLED" for i in s["items"])
    )


async def test_control_api_validates_its_input(rakuten_http: httpx.AsyncClient) -> None:
    assert (await rakuten_http.get("/_sandbox/sellers/nobody")).status_code == 404
    assert (await rakuten_http.post("/_sandbox/sellers", content=b"{nope")).status_code == 400
    invalid = await rakuten_http.post("/_sandbox/sellers", json={"login": "x", "token": "y", "bogus": 1})
    assert invalid.status_code == 422
    assert invalid.json()["error"]["code"] == "validation_error"
    await seller(rakuten_http)
    assert (await rakuten_http.post("/_sandbox/sellers", json={"login": LOGIN, "token": "z"})).status_code == 409
    duplicate = {"sales": [{"purchase_id": "1", "items": [{"sku": "A"}]}]}
    assert (await rakuten_http.post(f"/_sandbox/sellers/{LOGIN}/sales", json=duplicate)).status_code == 201
    assert (await rakuten_http.post(f"/_sandbox/sellers/{LOGIN}/sales", json=duplicate)).status_code == 409
    assert (await rakuten_http.put("/_sandbox/faults", json={"error_rate": 2})).status_code == 422


async def test_reset_forgets_everything(rakuten_http: httpx.AsyncClient, rakuten_sandbox: RakutenSandbox) -> None:
    await seller(rakuten_http)
    await ws(rakuten_http, "getnewsales")
    assert rakuten_sandbox.world.sellers
    assert rakuten_sandbox.calls
    await rakuten_http.post("/_sandbox/reset")
    assert not rakuten_sandbox.world.sellers
    assert not rakuten_sandbox.calls
    assert error_code(await ws(rakuten_http, "getnewsales")) == "InvalidUserConnection"
