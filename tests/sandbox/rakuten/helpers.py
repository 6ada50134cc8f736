"""Helpers of the Rakuten sandbox's tests: a seller, a web-service call, an explicit sale, reading answers."""

from __future__ import annotations

from typing import Any

import httpx
from lxml import etree

from rakuten_connector.sandbox.rakuten.contract import VERSIONS

LOGIN, TOKEN = "boutique", "tok-123"


async def seller(http: httpx.AsyncClient, login: str = LOGIN, token: str = TOKEN, **options: Any) -> None:
    response = await http.post("/_sandbox/sellers", json={"login": login, "token": token, **options})
    assert response.status_code == 201, response.text


async def ws(
    http: httpx.AsyncClient,
    action: str,
    *,
    login: str = LOGIN,
    token: str = TOKEN,
    file: bytes | None = None,
    **params: str,
) -> httpx.Response:
    endpoint = "stock_ws" if action in {"export", "genericimportfile", "genericimportreport"} else "sales_ws"
    query = {"action": action, "login": login, "pwd": token, "version": VERSIONS[action], **params}
    if file is not None:
        return await http.post(f"/{endpoint}", params=query, files={"file": ("f.xml", file, "text/xml")})
    return await http.get(f"/{endpoint}", params=query)


def root_of(response: httpx.Response) -> etree._Element:
    return etree.fromstring(response.content, etree.XMLParser(resolve_entities=False, no_network=True))


def texts(response: httpx.Response, name: str) -> list[str]:
    return [(e.text or "").strip() for e in root_of(response).iter(f"{{*}}{name}")]


def unreadable(response: httpx.Response) -> bool:
    try:
        root_of(response)
    except etree.XMLSyntaxError:
        return True
    return False


def error_code(response: httpx.Response) -> str:
    root = root_of(response)
    assert etree.QName(root).localname == "errorresponse", response.text
    return texts(response, "code")[0]


async def add_sale(http: httpx.AsyncClient, **sale: Any) -> dict[str, Any]:
    body = {"items": [{"sku": "SKU-1", "quantity": 2}], **sale}
    response = await http.post(f"/_sandbox/sellers/{LOGIN}/sales", json={"sales": [body]})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["sales"][0]
    return created
