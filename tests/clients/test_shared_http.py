"""The client many shops share keeps nothing one shop's answer left behind."""

from __future__ import annotations

import httpx
import respx

from rakuten_connector.clients.shared_http import shared_client


@respx.mock
async def test_a_cookie_set_for_one_shop_never_goes_with_another_shops_call() -> None:
    route = respx.get("https://ws.fr.shopping.rakuten.com/sales_ws").mock(
        side_effect=[
            httpx.Response(200, headers={"Set-Cookie": "session=seller-a; Path=/"}),
            httpx.Response(200),
        ]
    )
    async with shared_client(timeout=5) as http:
        await http.get("https://ws.fr.shopping.rakuten.com/sales_ws", params={"login": "seller-a"})
        await http.get("https://ws.fr.shopping.rakuten.com/sales_ws", params={"login": "seller-b"})
        assert len(http.cookies.jar) == 0
    assert "cookie" not in route.calls[1].request.headers


@respx.mock
async def test_a_redirect_is_not_followed() -> None:
    respx.get("https://cubyn.test/v2/").respond(302, headers={"Location": "https://elsewhere.test/"})
    async with shared_client(timeout=5) as http:
        assert (await http.get("https://cubyn.test/v2/")).status_code == 302
