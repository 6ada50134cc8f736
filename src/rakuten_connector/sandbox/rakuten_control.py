"""The sandbox's JSON control API (documented in `sandbox/rakuten.py`): sellers, sales, items, inventory,
faults, call log, clock and settings."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rakuten_connector.sandbox.rakuten_faker import GenerateOptions, generate_sales
from rakuten_connector.sandbox.rakuten_state import (
    WAITING,
    RakutenWorld,
    SbAddress,
    SbAdvert,
    SbItem,
    SbRelayPoint,
    SbSale,
    Seller,
)

if TYPE_CHECKING:
    from rakuten_connector.sandbox.rakuten import RakutenSandbox

M = TypeVar("M", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Faults(_Body):
    latency_seconds: float = Field(default=0.0, ge=0, le=120)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_seconds: float = Field(default=30.0, ge=0, le=600)
    garbled_rate: float = Field(default=0.0, ge=0, le=1)
    truncated_rate: float = Field(default=0.0, ge=0, le=1)
    quota_exhausted: bool = False
    actions: list[str] | None = None
    logins: list[str] | None = None
    times: int | None = Field(default=None, ge=0)


class SellerIn(_Body):
    login: str = Field(min_length=1)
    token: str = Field(min_length=1)
    quota_per_hour: int | None = Field(default=None, ge=0)
    files_per_hour: int | None = Field(default=None, ge=0)
    acceptance_deadline_hours: float | None = Field(default=None, gt=0)


class SellerPatch(_Body):
    token: str | None = Field(default=None, min_length=1)
    quota_per_hour: int | None = Field(default=None, ge=0)
    files_per_hour: int | None = Field(default=None, ge=0)
    acceptance_deadline_hours: float | None = Field(default=None, gt=0)


class ItemIn(_Body):
    sku: str = ""
    headline: str = "Article"
    price: Decimal = Decimal("10.00")
    status: str = "TO_CONFIRM"
    is_nego: bool = False
    is_preorder: bool = False
    quantity: int = Field(default=1, ge=1, le=100)
    item_id: str | None = None
    advert_id: str | None = None


class SaleIn(_Body):
    purchase_id: str | None = None
    purchased_at: datetime | None = None
    age_minutes: float = Field(default=5.0, ge=0)
    shipping_type: str = "Suivi"
    buyer_login: str = "acheteur"
    buyer_email: str = "acheteur@example.fr"
    delivery_address: SbAddress | None = None
    billing_address: SbAddress | None = None
    relay_point: SbRelayPoint | None = None
    items: list[ItemIn] = Field(min_length=1)


class SalesIn(_Body):
    sales: list[SaleIn] = Field(min_length=1)


class StatusIn(_Body):
    status: str = Field(min_length=1)


class AdvertIn(_Body):
    sku: str
    stock: int = Field(ge=0)
    price: Decimal = Decimal("10.00")
    advert_id: str | None = None
    quality: str = "N"


class GenerateInventory(_Body):
    count: int = Field(ge=0, le=1_000_000)
    seed: int = 0
    prefix: str = "SKU-"
    max_stock: int = Field(default=50, ge=0)


class InventoryIn(_Body):
    adverts: list[AdvertIn] = Field(default_factory=list)
    generate: GenerateInventory | None = None


class ClockIn(_Body):
    advance_seconds: float


class SettingsIn(_Body):
    upload_delay_seconds: float | None = Field(default=None, ge=0)
    sales_page_size: int | None = Field(default=None, ge=1)
    export_page_size: int | None = Field(default=None, ge=1)
    report_page_size: int | None = Field(default=None, ge=1)


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def control_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ControlError)
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, exc.status)


async def _body(request: Request, model: type[M]) -> M:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise ControlError(400, "malformed_json", "the body is not JSON") from None
    return model.model_validate(data)


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


def control_routes(sandbox: RakutenSandbox) -> list[Route]:
    def world() -> RakutenWorld:
        return sandbox.world  # reset() replaces it

    def seller_of(request: Request) -> Seller:
        seller = world().sellers.get(request.path_params["login"])
        if seller is None:
            raise ControlError(404, "not_found", "unknown seller")
        return seller

    def item_of(request: Request) -> tuple[Seller, SbSale, SbItem]:
        seller = seller_of(request)
        found = seller.items.get(request.path_params["item_id"])
        if found is None:
            raise ControlError(404, "not_found", "unknown item")
        return seller, *found

    async def reset(_: Request) -> Response:
        sandbox.reset()
        return JSONResponse({"ok": True})

    async def create_seller(request: Request) -> Response:
        body = await _body(request, SellerIn)
        if body.login in world().sellers:
            raise ControlError(409, "conflict", "seller already exists")
        options = body.model_dump(exclude={"login", "token"})
        seller = world().add_seller(body.login, body.token, **options)
        return JSONResponse({"login": seller.login, "seller_id": seller.seller_id}, 201)

    async def get_seller(request: Request) -> Response:
        seller = seller_of(request)
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
        seller = seller_of(request)
        for key, value in (await _body(request, SellerPatch)).model_dump(exclude_unset=True).items():
            setattr(seller, key, value)
        return await get_seller(request)

    async def generate(request: Request) -> Response:
        seller = seller_of(request)
        sales = generate_sales(world(), seller, await _body(request, GenerateOptions))
        return JSONResponse({"sales": [_sale_json(s) for s in sales]}, 201)

    async def add_sales(request: Request) -> Response:
        seller = seller_of(request)
        created = []
        for sale_in in (await _body(request, SalesIn)).sales:
            try:
                created.append(world().add_sale(seller, _build_sale(world(), seller, sale_in)))
            except ValueError as exc:
                raise ControlError(409, "conflict", str(exc)) from None
        return JSONResponse({"sales": [_sale_json(s) for s in created]}, 201)

    async def list_sales(request: Request) -> Response:
        seller = seller_of(request)
        world().tick(seller)
        return JSONResponse({"sales": [_sale_json(s) for s in seller.sales.values()]})

    async def get_item(request: Request) -> Response:
        seller, sale, item = item_of(request)
        world().tick(seller)
        return JSONResponse({"purchase_id": sale.purchase_id, **item.model_dump(mode="json")})

    async def buyer_cancel(request: Request) -> Response:
        seller, _, item = item_of(request)
        world().tick(seller)
        if item.status not in WAITING:
            raise ControlError(409, "conflict", f"a buyer can only cancel a waiting item (status {item.status})")
        item.status = "CANCELLED"
        return await get_item(request)

    async def set_status(request: Request) -> Response:
        _, _, item = item_of(request)
        item.status = (await _body(request, StatusIn)).status
        return await get_item(request)

    async def put_inventory(request: Request) -> Response:
        seller = seller_of(request)
        body = await _body(request, InventoryIn)
        adverts = [
            SbAdvert(a.advert_id or world().next_advert_id(), a.sku, a.stock, a.price, a.quality)
            for a in body.adverts
        ]
        if body.generate is not None:
            rng = random.Random(body.generate.seed)
            gen = body.generate
            adverts += [
                SbAdvert(
                    world().next_advert_id(),
                    f"{gen.prefix}{n:06d}",
                    rng.randint(0, gen.max_stock),
                    Decimal(rng.randint(199, 9_999)) / 100,
                )
                for n in range(1, gen.count + 1)
            ]
        world().set_inventory(seller, adverts)
        return JSONResponse({"total": len(adverts)})

    async def get_inventory(request: Request) -> Response:
        seller = seller_of(request)
        world().tick(seller)
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
        seller = seller_of(request)
        world().tick(seller)
        now, delay = world().now(), world().upload_delay
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

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            sandbox.faults = await _body(request, Faults)
        elif request.method == "DELETE":
            sandbox.faults = Faults()
        return JSONResponse(sandbox.faults.model_dump())

    async def calls(request: Request) -> Response:
        login, action = request.query_params.get("login"), request.query_params.get("action")
        selected = [
            c
            for c in sandbox.calls
            if (login is None or c["login"] == login) and (action is None or c["action"] == action)
        ]
        return JSONResponse({"calls": selected})

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            world().offset += timedelta(seconds=(await _body(request, ClockIn)).advance_seconds)
        return JSONResponse({"now": world().now().isoformat(), "offset_seconds": world().offset.total_seconds()})

    async def settings(request: Request) -> Response:
        body = await _body(request, SettingsIn)
        w = world()
        if body.upload_delay_seconds is not None:
            w.upload_delay = timedelta(seconds=body.upload_delay_seconds)
        for key in ("sales_page_size", "export_page_size", "report_page_size"):
            if (value := getattr(body, key)) is not None:
                setattr(w, key, value)
        return JSONResponse(
            {
                "upload_delay_seconds": w.upload_delay.total_seconds(),
                "sales_page_size": w.sales_page_size,
                "export_page_size": w.export_page_size,
                "report_page_size": w.report_page_size,
            }
        )

    prefix, seller_path = "/_sandbox", "/_sandbox/sellers/{login}"
    return [
        Route(f"{prefix}/reset", reset, methods=["POST"]),
        Route(f"{prefix}/sellers", create_seller, methods=["POST"]),
        Route(seller_path, get_seller, methods=["GET"]),
        Route(seller_path, patch_seller, methods=["PATCH"]),
        Route(f"{seller_path}/sales/generate", generate, methods=["POST"]),
        Route(f"{seller_path}/sales", add_sales, methods=["POST"]),
        Route(f"{seller_path}/sales", list_sales, methods=["GET"]),
        Route(f"{seller_path}/items/{{item_id}}", get_item, methods=["GET"]),
        Route(f"{seller_path}/items/{{item_id}}/buyer-cancel", buyer_cancel, methods=["POST"]),
        Route(f"{seller_path}/items/{{item_id}}/status", set_status, methods=["POST"]),
        Route(f"{seller_path}/inventory", put_inventory, methods=["PUT"]),
        Route(f"{seller_path}/inventory", get_inventory, methods=["GET"]),
        Route(f"{seller_path}/uploads", uploads, methods=["GET"]),
        Route(f"{prefix}/faults", faults, methods=["GET", "PUT", "DELETE"]),
        Route(f"{prefix}/calls", calls, methods=["GET"]),
        Route(f"{prefix}/clock", clock, methods=["GET", "POST"]),
        Route(f"{prefix}/settings", settings, methods=["PUT"]),
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
    no_address = (
        sale_in.delivery_address is None and sale_in.billing_address is None and sale_in.relay_point is None
    )
    return SbSale(
        purchase_id=sale_in.purchase_id or world.next_purchase_id(),
        purchased_at=purchased_at,
        shipping_type=sale_in.shipping_type,
        buyer_login=sale_in.buyer_login,
        buyer_email=sale_in.buyer_email,
        delivery_address=_DEFAULT_ADDRESS if no_address else sale_in.delivery_address,
        billing_address=sale_in.billing_address,
        relay_point=sale_in.relay_point,
        items=items,
    )
