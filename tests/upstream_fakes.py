"""Rakuten and Cubyn answered by respx for the credential checks (fixture `upstreams`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from tests.conftest import CUBYN_URL, RAKUTEN_URL, use_secret

NEW_SALES_OK = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<getnewsalesresult xmlns="http://pmcdn.priceminister.com/res/schema/getnewsales">
  <request><version>2017-08-07</version><user>shop</user></request>
  <response><lastversion>2017-08-07</lastversion><sellerid>1</sellerid><sales/></response>
</getnewsalesresult>"""

BAD_USER = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<errorresponse xmlns="http://pmcdn.priceminister.com/res/schema/error">
  <error><type>Sender</type><code>InvalidUserConnection</code><message>Unknown user or password.</message>
  <details/></error>
</errorresponse>"""

QUOTA = BAD_USER.replace(b"InvalidUserConnection", b"InvalidUserRights").replace(
    b"Unknown user or password.", b"Quota exceeded."
)

CUBYN_ME = {"name": "cubyn.api", "version": "2", "auth": {"application": {"id": 7, "name": "Rakuten"}}}

GOOD_TOKEN = use_secret("rk-token-CANARY-5f0e1d2c3b4a")
GOOD_KEY = use_secret("cubyn-key-CANARY-9a8b7c6d5e4f")


class Upstreams:
    """Switchable answers: `rakuten` and `cubyn` are respx routes; `valid_tokens` are accepted."""

    def __init__(self, mock: respx.MockRouter) -> None:
        self.mock = mock
        self.valid_tokens = {GOOD_TOKEN}
        self.valid_keys = {GOOD_KEY}
        self.rakuten = mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": "getnewsales"})
        self.rakuten.side_effect = self._rakuten
        self.cubyn = mock.get(f"{CUBYN_URL}/")
        self.cubyn.side_effect = self._cubyn

    def _rakuten(self, request: httpx.Request) -> httpx.Response:
        if request.url.params.get("pwd") in self.valid_tokens:
            return httpx.Response(200, content=NEW_SALES_OK)
        return httpx.Response(200, content=BAD_USER)

    def _cubyn(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("x-application") in self.valid_keys:
            return httpx.Response(200, json=CUBYN_ME)
        return httpx.Response(401, json={"message": "Unauthorized"})


@pytest.fixture
def upstreams() -> Iterator[Upstreams]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield Upstreams(mock)


def connection_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Ma boutique Rakuten",
        "seller_id": "boutique-seller",
        "token": GOOD_TOKEN,
        "cubyn_api_key": GOOD_KEY,
    }
    body.update(overrides)
    return body
