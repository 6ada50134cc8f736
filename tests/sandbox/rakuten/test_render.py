"""The sandbox's getiteminfos answer has Rakuten's shape (one item, its status, `shipped`, its other blocks,
no tracking field), and reading it marks the item's messages read, as Rakuten does."""

from __future__ import annotations

from typing import Any

import httpx
from lxml import etree

from tests.sandbox.rakuten.helpers import LOGIN, add_sale, root_of, seller, texts, ws

TRACKING = {"transporter_name": "Cubyn", "tracking_number": "CUB1", "tracking_url": "https://t/CUB1"}


def item_of(answer: httpx.Response) -> tuple[etree._Element, list[str]]:
    """The answer's only `response/item`, and the names of its children in order."""
    root = root_of(answer)
    assert etree.QName(root).localname == "getiteminfosresult"
    [response] = root.iterfind("{*}response")
    assert [etree.QName(e).localname for e in response] == ["lastversion", "sellerid", "item"]
    item = response[2]
    return item, [etree.QName(e).localname for e in item]


async def test_getiteminfos_follows_the_item_through_its_life(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http)
    [item_id] = [i["item_id"] for i in (await add_sale(rakuten_http, items=[{"sku": "A"}]))["items"]]

    waiting, names = item_of(await ws(rakuten_http, "getiteminfos", itemid=item_id))
    assert names[:3] == ["itemid", "date", "itemstatus"]
    assert "shipped" not in names  # only sometimes there: not before the seller decided
    assert {"itemstate", "paymentstatus", "availableactions", "mail", "itemlog"} <= set(names)
    assert waiting.findtext("{*}itemstatus", "").strip() == "TO_CONFIRM"
    assert [a.strip() for a in waiting.itertext() if a.strip() in {"acceptsale", "refusesale"}] == [
        "acceptsale",
        "refusesale",
    ]

    await ws(rakuten_http, "acceptsale", itemid=item_id, shippingfromcountry="249")
    accepted = await ws(rakuten_http, "getiteminfos", itemid=item_id)
    assert (texts(accepted, "itemstatus"), texts(accepted, "shipped")) == (["ACCEPTED"], ["0"])
    await ws(rakuten_http, "settrackingpackageinfos", itemid=item_id, **TRACKING)
    shipped = await ws(rakuten_http, "getiteminfos", itemid=item_id)
    assert (texts(shipped, "itemstatus"), texts(shipped, "shipped")) == (["ACCEPTED"], ["1"])
    for name in ("trackingnumber", "tracking_number", "transporter", "purchaseid", "sku"):
        assert texts(shipped, name) == []  # none of these is in Rakuten's answer

    await rakuten_http.post(f"/_sandbox/sellers/{LOGIN}/items/{item_id}/status", json={"status": "CLAIM"})
    claimed, names = item_of(await ws(rakuten_http, "getiteminfos", itemid=item_id))
    assert "claim" in names
    assert claimed.findtext("{*}itemstatus", "").strip() == "CLAIM"


async def message(http: httpx.AsyncClient, item_id: str, content: str) -> dict[str, Any]:
    answer = await http.post(f"/_sandbox/sellers/{LOGIN}/items/{item_id}/messages", json={"content": content})
    assert answer.status_code == 200, answer.text
    item: dict[str, Any] = answer.json()
    return item


async def test_reading_an_item_marks_its_messages_read_and_nothing_else_does(
    rakuten_http: httpx.AsyncClient,
) -> None:
    await seller(rakuten_http)
    first, second = (i["item_id"] for i in (await add_sale(rakuten_http))["items"])
    item = await message(rakuten_http, first, "Où est mon colis ?")
    assert [(m["sender"], m["content"], m["read"]) for m in item["messages"]] == [
        ("buyer", "Où est mon colis ?", False)
    ]
    await message(rakuten_http, second, "Merci !")
    # Listing sales does not read messages.
    await ws(rakuten_http, "getnewsales")
    await ws(rakuten_http, "acceptsale", itemid=first, shippingfromcountry="249")
    await ws(rakuten_http, "getcurrentsales")
    assert (await rakuten_http.get(f"/_sandbox/sellers/{LOGIN}/items/{first}")).json()["messages"][0][
        "read"
    ] is False
    info = await ws(rakuten_http, "getiteminfos", itemid=first)
    assert texts(info, "content") == ["Où est mon colis ?"]
    assert (await rakuten_http.get(f"/_sandbox/sellers/{LOGIN}/items/{first}")).json()["messages"][0][
        "read"
    ] is True
    assert (await rakuten_http.get(f"/_sandbox/sellers/{LOGIN}/items/{second}")).json()["messages"][0][
        "read"
    ] is False
