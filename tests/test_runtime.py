"""The worker's runtime: each shop always goes through the same one of the few HTTP pools, and a disconnected
connection gets no client."""

from __future__ import annotations

import pytest

from rakuten_connector.connections.models import Connection
from rakuten_connector.runtime import Runtime
from rakuten_connector.settings import Settings


async def test_each_shop_keeps_one_http_pool_and_shops_spread_over_all(settings: Settings) -> None:
    rt = Runtime.start(settings)
    try:
        shops = [f"shop-{n}" for n in range(200)]
        assert all(rt.http(shop) is rt.http(shop) for shop in shops)  # keep-alive connections are reused
        used = {id(rt.http(shop)) for shop in shops}
        assert used == {id(pool) for pool in rt.pools}
        assert len(rt.pools) > 1
    finally:
        await rt.close()
    assert all(pool.is_closed for pool in rt.pools)


async def test_a_disconnected_connection_gets_no_client(settings: Settings) -> None:
    rt = Runtime.start(settings)
    try:
        gone = Connection(id="c-gone", seller_id="shop-gone", rakuten_token_enc=None, cubyn_api_key_enc=None)
        with pytest.raises(RuntimeError, match="shop-gone has no Rakuten token: a disconnected connection"):
            rt.rakuten(gone)
        with pytest.raises(RuntimeError, match="c-gone has no Cubyn key: a disconnected connection"):
            rt.cubyn(gone)
    finally:
        await rt.close()
