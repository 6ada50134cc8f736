"""The Rakuten sandbox's JSON control API (documented in `app.py`): sellers, sales, items, inventory,
faults, call log, clock and settings. Route functions read the simulator from `request.app.state`."""

from __future__ import annotations

import random
from datetime import UTC, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rakuten_connector.sandbox.bodies import StatusIn, read_body
from rakuten_connector.sandbox.rakuten.bodies import (
    ClockIn,
    Faults,
    InventoryIn,
    MessageIn,
    SaleIn,
    SalesIn,
    SellerIn,
    SellerPatch,
    SettingsIn,
)
from rakuten_connector.sandbox.rakuten.faker import GenerateOptions, generate_sales
from rakuten_connector.sandbox.rakuten.models import (
    WAITING,
    SbAddress,
    SbAdvert,
    SbItem,
    SbMessage,
    SbRelayPoint,
    SbSale,
    Seller,
)
from rakuten_connector.sandbox.rakuten.shipping import AddressBlocks, address_blocks
from rakuten_connector.sandbox.rakuten.simulator import sandbox_of
from rakuten_connector.sandbox.rakuten.state import RakutenWorld


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _sale_json(sale: SbSale) -> dict[str, Any]:
    return sale.model_dump(mode="json")


def _advert_json(advert: SbAdvert) -> dict[str, Any]:
    return {
        "advert_id": advert.advert_id,
        "sku": advert.sku,
        "stock": advert.stock,
        "price": str(advert.price),
        "quality": advert.quality,
    }


def _world(request: Request) -> RakutenWorld:
    return sandbox_of(request).world  # reset() replaces it


def _seller(request: Request) -> Seller:
    seller = _world(request).sellers.get(request.path_params["login"])
    if seller is None:
        raise ControlError(404, "not_found", "unknown seller")
    return seller


def _item(request: Request) -> tuple[Seller, SbSale, SbItem]:
    seller = _seller(request)
    found = seller.items.get(request.path_params["item_id"])
    if found is None:
        raise ControlError(404, "not_found", "unknown item")
    return seller, *found


# -- sellers ----------------------------------------------------------------------------------------------


async def reset(request: Request) -> Response:
    sandbox_of(request).reset()
    return JSONResponse({"ok": True})


async def create_seller(request: Request) -> Response:
    body = await read_body(request, SellerIn)
    world = _world(request)
    if body.login in world.sellers:
        raise ControlError(409, "conflict", "seller already exists")
    options = body.model_dump(exclude={"login", "token"})
    seller = world.add_seller(body.login, body.token, **options)
    return JSONResponse({"login": seller.login, "seller_id": seller.seller_id}, 201)


async def get_seller(request: Request) -> Response:
    seller = _seller(request)
    return JSONResponse(
        {
            "login": seller.login,
            "seller_id": seller.seller_id,
            "quota_per_hour": seller.quota_per_hour,
            "files_per_hour": seller.files_per_hour,
            "acceptance_deadline_hours": seller.acceptance_deadline_hours,
            "calls_this_hour": sum(seller.calls_per_hour.values()),
            "sales": len(seller.sales),
            "items": len(seller.items),
            "adverts": len(seller.adverts),
            "uploads": len(seller.uploads),
        }
    )


async def patch_seller(request: Request) -> Response:
    seller = _seller(request)
    for key, value in (await read_body(request, SellerPatch)).model_dump(exclude_unset=True).items():
        setattr(seller, key, value)
    return await get_seller(request)


# -- sales and items --------------------------------------------------------------------------------------


async def generate(request: Request) -> Response:
    seller = _seller(request)
    sales = generate_sales(_world(request), seller, await read_body(request, GenerateOptions))
    return JSONResponse({"sales": [_sale_json(s) for s in sales]}, 201)


async def add_sales(request: Request) -> Response:
    seller, world = _seller(request), _world(request)
    created = []
    for sale_in in (await read_body(request, SalesIn)).sales:
        try:
            created.append(world.add_sale(seller, _build_sale(world, seller, sale_in)))
        except ValueError as exc:
            raise ControlError(409, "conflict", str(exc)) from None
    return JSONResponse({"sales": [_sale_json(s) for s in created]}, 201)


async def list_sales(request: Request) -> Response:
    seller = _seller(request)
    _world(request).tick(seller)
    return JSONResponse({"sales": [_sale_json(s) for s in seller.sales.values()]})


async def get_item(request: Request) -> Response:
    seller, sale, item = _item(request)
    _world(request).tick(seller)
    return JSONResponse({"purchase_id": sale.purchase_id, **item.model_dump(mode="json")})


async def buyer_cancel(request: Request) -> Response:
    seller, _, item = _item(request)
    _world(request).tick(seller)
    if item.status not in WAITING:
        raise ControlError(409, "conflict", f"a buyer can only cancel a waiting item (status {item.status})")
    item.status = "CANCELLED"
    return await get_item(request)


async def add_message(request: Request) -> Response:
    _, _, item = _item(request)
    body = await read_body(request, MessageIn)
    item.messages.append(SbMessage(content=body.content, sender=body.sender, sent_at=_world(request).now()))
    return await get_item(request)


async def set_status(request: Request) -> Response:
    _, _, item = _item(request)
    item.status = (await read_body(request, StatusIn)).status
    return await get_item(request)


# -- inventory and stock files ----------------------------------------------------------------------------


async def put_inventory(request: Request) -> Response:
    seller, world = _seller(request), _world(request)
    body = await read_body(request, InventoryIn)
    adverts = [
        SbAdvert(a.advert_id or world.next_advert_id(), a.sku, a.stock, a.price, a.quality) for a in body.adverts
    ]
    if body.generate is not None:
        rng = random.Random(body.generate.seed)
        gen = body.generate
        adverts += [
            SbAdvert(
                world.next_advert_id(),
                f"{gen.prefix}{n:06d}",
                rng.randint(0, gen.max_stock),
                Decimal(rng.randint(199, 9_999)) / 100,
            )
            for n in range(1, gen.count + 1)
        ]
    world.set_inventory(seller, adverts)
    return JSONResponse({"total": len(adverts)})


async def get_inventory(request: Request) -> Response:
    seller = _seller(request)
    _world(request).tick(seller)
    sku = request.query_params.get("sku")
    if sku is not None:
        advert = seller.adverts_by_sku.get(sku)
        return JSONResponse(
            {"total": int(advert is not None), "adverts": [_advert_json(advert)] if advert else []}
        )
    offset = int(request.query_params.get("offset", "0"))
    limit = int(request.query_params.get("limit", "1000"))
    page = seller.adverts[offset : offset + limit]
    return JSONResponse({"total": len(seller.adverts), "adverts": [_advert_json(a) for a in page]})


async def uploads(request: Request) -> Response:
    seller, world = _seller(request), _world(request)
    world.tick(seller)
    now, delay = world.now(), world.upload_delay
    return JSONResponse(
        {
            "uploads": [
                {
                    "import_id": u.import_id,
                    "filename": u.filename,
                    "received_at": u.received_at.isoformat(),
                    "status": u.status(now, delay),
                    "lines": [{"sku": sku, "qty": qty} for sku, qty in u.lines],
                    "results": [{"sku": r.sku, "status": r.status, "errors": r.errors} for r in u.results],
                }
                for u in seller.uploads.values()
            ]
        }
    )


# -- the whole sandbox ------------------------------------------------------------------------------------


async def faults(request: Request) -> Response:
    sandbox = sandbox_of(request)
    if request.method == "PUT":
        sandbox.faults = await read_body(request, Faults)
    elif request.method == "DELETE":
        sandbox.faults = Faults()
    return JSONResponse(sandbox.faults.model_dump())


async def calls(request: Request) -> Response:
    login, action = request.query_params.get("login"), request.query_params.get("action")
    selected = [
        c
        for c in sandbox_of(request).calls
        if (login is None or c["login"] == login) and (action is None or c["action"] == action)
    ]
    return JSONResponse({"calls": selected})


async def clock(request: Request) -> Response:
    world = _world(request)
    if request.method == "POST":
        world.offset += timedelta(seconds=(await read_body(request, ClockIn)).advance_seconds)
    return JSONResponse({"now": world.now().isoformat(), "offset_seconds": world.offset.total_seconds()})


async def settings(request: Request) -> Response:
    body = await read_body(request, SettingsIn)
    world = _world(request)
    if body.upload_delay_seconds is not None:
        world.upload_delay = timedelta(seconds=body.upload_delay_seconds)
    for key in ("sales_page_size", "export_page_size", "report_page_size"):
        if (value := getattr(body, key)) is not None:
            setattr(world, key, value)
    return JSONResponse(
        {
            "upload_delay_seconds": world.upload_delay.total_seconds(),
            "sales_page_size": world.sales_page_size,
            "export_page_size": world.export_page_size,
            "report_page_size": world.report_page_size,
        }
    )


_PREFIX, _SELLER = "/_sandbox", "/_sandbox/sellers/{login}"
ROUTES = [
    Route(f"{_PREFIX}/reset", reset, methods=["POST"]),
    Route(f"{_PREFIX}/sellers", create_seller, methods=["POST"]),
    Route(_SELLER, get_seller, methods=["GET"]),
    Route(_SELLER, patch_seller, methods=["PATCH"]),
    Route(f"{_SELLER}/sales/generate", generate, methods=["POST"]),
    Route(f"{_SELLER}/sales", add_sales, methods=["POST"]),
    Route(f"{_SELLER}/sales", list_sales, methods=["GET"]),
    Route(f"{_SELLER}/items/{{item_id}}", get_item, methods=["GET"]),
    Route(f"{_SELLER}/items/{{item_id}}/buyer-cancel", buyer_cancel, methods=["POST"]),
    Route(f"{_SELLER}/items/{{item_id}}/status", set_status, methods=["POST"]),
    Route(f"{_SELLER}/items/{{item_id}}/messages", add_message, methods=["POST"]),
    Route(f"{_SELLER}/inventory", put_inventory, methods=["PUT"]),
    Route(f"{_SELLER}/inventory", get_inventory, methods=["GET"]),
    Route(f"{_SELLER}/uploads", uploads, methods=["GET"]),
    Route(f"{_PREFIX}/faults", faults, methods=["GET", "PUT", "DELETE"]),
    Route(f"{_PREFIX}/calls", calls, methods=["GET"]),
    Route(f"{_PREFIX}/clock", clock, methods=["GET", "POST"]),
    Route(f"{_PREFIX}/settings", settings, methods=["PUT"]),
]


_DEFAULT_ADDRESS = SbAddress(
    civility="Mme",
    firstname="Hélène",
    lastname="Lefèvre",
    address1="12 rue de la République",
    zipcode="69003",
    city="Lyon",
    phonenumber1="06 12 34 56 78",
)
_DEFAULT_RELAY = SbRelayPoint(
    id="FR-084735",
    name="Tabac Presse de la Gare",
    address="1 place de la Gare",
    zipcode="69002",
    city="Lyon",
    civility="Mme",
    firstname="Hélène",
    lastname="Lefèvre",
    contractlevel="24R",
)


def _build_sale(world: RakutenWorld, seller: Seller, sale_in: SaleIn) -> SbSale:
    items: list[SbItem] = []
    for item_in in sale_in.items:
        if item_in.item_id is not None and item_in.quantity != 1:
            raise ValueError("item_id can only be given for quantity 1")
        advert = seller.adverts_by_sku.get(item_in.sku) if item_in.sku else None
        advert_id = item_in.advert_id or (advert.advert_id if advert else world.next_advert_id())
        for _ in range(item_in.quantity):
            items.append(
                SbItem(
                    item_id=item_in.item_id or world.next_item_id(),
                    sku=item_in.sku,
                    advert_id=advert_id,
                    headline=item_in.headline,
                    status=item_in.status,
                    price=item_in.price,
                    is_nego=item_in.is_nego,
                    is_preorder=item_in.is_preorder,
                )
            )
    purchased_at = sale_in.purchased_at or world.now() - timedelta(minutes=sale_in.age_minutes)
    if purchased_at.tzinfo is None:
        purchased_at = purchased_at.replace(tzinfo=UTC)
    delivery, billing, relay = _address_blocks(sale_in)
    return SbSale(
        purchase_id=sale_in.purchase_id or world.next_purchase_id(),
        purchased_at=purchased_at,
        shipping_type=sale_in.shipping_type,
        buyer_login=sale_in.buyer_login,
        buyer_email=sale_in.buyer_email,
        delivery_address=delivery,
        billing_address=billing,
        relay_point=relay,
        items=items,
    )


def _address_blocks(sale_in: SaleIn) -> tuple[SbAddress | None, SbAddress | None, SbRelayPoint | None]:
    """The blocks given, as they are; none given: the ones Rakuten sends for the shipping type (home:
    a delivery address; relay: a relay point and a billing address; prepaid and billing-only modes: a
    billing address). A So Colissimo sale that names a relay point gives `billing_address` and `relay_point`."""
    given = (sale_in.delivery_address, sale_in.billing_address, sale_in.relay_point)
    if any(block is not None for block in given):
        return given
    blocks = address_blocks(sale_in.shipping_type)
    if blocks is AddressBlocks.RELAY:
        return None, _DEFAULT_ADDRESS, _DEFAULT_RELAY
    if blocks is AddressBlocks.BILLING_ONLY:
        return None, _DEFAULT_ADDRESS, None
    return _DEFAULT_ADDRESS, None, None
