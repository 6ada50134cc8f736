"""In-memory state of the Cubyn sandbox: applications, catalogues, parcels and their lifecycle.

Synchronous and event-loop free: every change reports what happened through `emit` (webhook events) and
the app schedules the next lifecycle step. See `sandbox/cubyn.py` for the HTTP side.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rakuten_connector.kit.clock import utcnow

FIELD_MAX, ZIP_MAX, EMAIL_MAX, PHONE_MIN, PHONE_MAX = 35, 8, 70, 4, 13
DELIVERY_MODES = ("STANDARD", "EXPRESS", "RELAY")
CARRIERS = {"STANDARD": "COLISSIMO", "EXPRESS": "CHRONOPOST", "RELAY": "MONDIAL_RELAY"}
STEPS = ("validate", "pick", "pack", "ship", "in_transit", "deliver")
SHIPPED_OR_LATER = frozenset(
    {
        "SHIPPED",
        "CARRIER_IN_TRANSIT",
        "CARRIER_OUT_FOR_DELIVERY",
        "CARRIER_FAILED_ATTEMPT",
        "CARRIER_EXCEPTION",
        "CARRIER_DELIVERED",
        "RETURNING",
        "RETURNED",
    }
)
_ZIP_COUNTRIES = frozenset({"FR", "MC"})
_COUNTRY = re.compile(r"^[A-Z]{2}$")

Emit = Callable[["Application", str, dict[str, Any]], None]


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Application:
    id: int
    key: str
    name: str
    merchant_id: str
    webhook_url: str | None = None
    webhook_secret: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "merchant_id": self.merchant_id,
            "webhook_url": self.webhook_url,
        }


@dataclass
class Product:
    sku: str
    name: str
    available: int
    stored: int


@dataclass
class SandboxParcel:
    id: int
    application: Application
    order_ref: str
    body: dict[str, Any]
    items: dict[str, int]
    created_at: datetime
    updated_at: datetime
    status: str = "CREATED"
    validations: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"address": {"status": "PENDING"}, "stock": {"status": "PENDING"}}
    )
    validated_at: datetime | None = None
    carrier: str | None = None
    carrier_tracking_id: str | None = None
    shipped_at: datetime | None = None
    generation: int = 0  # bumped on every change: a scheduled step of an older generation does nothing

    @property
    def delivery_mode(self) -> str:
        return str(self.body.get("deliveryMode"))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "orderRef": self.order_ref,
            "status": self.status,
            "validations": {name: dict(check) for name, check in self.validations.items()},
            "validatedAt": iso(self.validated_at),
            "deliveryMode": self.delivery_mode,
            "deliverySigned": bool(self.body.get("deliverySigned")),
            "carrier": self.carrier,
            "carrierTrackingId": self.carrier_tracking_id,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "shippedAt": iso(self.shipped_at),
        }

    def check_failed(self) -> bool:
        return any(check.get("status") == "FAILED" for check in self.validations.values())


def _text(
    errors: list[dict[str, str]],
    body: dict[str, Any],
    name: str,
    path: str,
    *,
    required: bool,
    max_len: int = FIELD_MAX,
    min_len: int = 1,
) -> None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            errors.append({"field": path, "message": "is required"})
        return
    if not isinstance(value, str):
        errors.append({"field": path, "message": "must be a string"})
    elif len(value) > max_len:
        errors.append({"field": path, "message": f"must be at most {max_len} characters"})
    elif len(value) < min_len:
        errors.append({"field": path, "message": f"must be at least {min_len} characters"})


def validate_parcel_body(body: Any) -> list[dict[str, str]]:
    """The create-parcel field checks of the contract: the `errors` of a 400, empty when valid."""
    if not isinstance(body, dict):
        return [{"field": "body", "message": "must be a JSON object"}]
    errors: list[dict[str, str]] = []
    _text(errors, body, "orderRef", "orderRef", required=True, max_len=100)
    has_org = isinstance(body.get("organizationName"), str) and bool(body["organizationName"])
    _text(errors, body, "lastName", "lastName", required=not has_org)
    _text(errors, body, "firstName", "firstName", required=False)
    _text(errors, body, "organizationName", "organizationName", required=False)
    _text(errors, body, "phone", "phone", required=False, max_len=PHONE_MAX, min_len=PHONE_MIN)
    _text(errors, body, "email", "email", required=False, max_len=EMAIL_MAX)
    email = body.get("email")
    if isinstance(email, str) and email and ("@" not in email or "." not in email):
        errors.append({"field": "email", "message": "must be an e-mail address"})
    address = body.get("address")
    if not isinstance(address, dict):
        errors.append({"field": "address", "message": "is required"})
    else:
        _text(errors, address, "line1", "address.line1", required=True)
        _text(errors, address, "line2", "address.line2", required=False)
        _text(errors, address, "additionalInformation", "address.additionalInformation", required=False)
        _text(errors, address, "zip", "address.zip", required=True, max_len=ZIP_MAX)
        _text(errors, address, "city", "address.city", required=True)
        country = address.get("country")
        if not isinstance(country, str) or not _COUNTRY.match(country):
            errors.append({"field": "address.country", "message": "must be an ISO 3166-1 alpha-2 code"})
    mode = body.get("deliveryMode")
    if mode not in DELIVERY_MODES:
        errors.append({"field": "deliveryMode", "message": f"must be one of {', '.join(DELIVERY_MODES)}"})
    if body.get("deliverySigned") not in (None, True, False):
        errors.append({"field": "deliverySigned", "message": "must be a boolean"})
    relay = body.get("relayPoint")
    if mode == "RELAY" and not isinstance(relay, dict):
        errors.append({"field": "relayPoint", "message": "is required for RELAY"})
    if isinstance(relay, dict):
        _text(errors, relay, "id", "relayPoint.id", required=True, max_len=64)
        if not isinstance(relay.get("country"), str) or not _COUNTRY.match(relay["country"]):
            errors.append({"field": "relayPoint.country", "message": "must be an ISO 3166-1 alpha-2 code"})
    items = body.get("items")
    if not isinstance(items, list) or not items:
        errors.append({"field": "items", "message": "must hold at least one item"})
        return errors
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append({"field": f"items[{index}]", "message": "must be an object"})
            continue
        _text(errors, item, "sku", f"items[{index}].sku", required=True, max_len=255)
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            errors.append({"field": f"items[{index}].quantity", "message": "must be an integer >= 1"})
    return errors


class CubynState:
    def __init__(self, emit: Emit, on_change: Callable[[SandboxParcel], None] | None = None) -> None:
        self._emit = emit
        self._on_change = on_change or (lambda _parcel: None)
        self.reset()

    def reset(self) -> None:
        self.applications: dict[str, Application] = {}
        self.catalogues: dict[str, dict[str, Product]] = {}
        self.parcels: dict[int, SandboxParcel] = {}
        self.received: list[dict[str, Any]] = []
        self._next_parcel_id = 100000
        self._last_instant = utcnow()

    def now(self) -> datetime:
        """Strictly increasing instants, so that `updatedAt` orders a parcel's events."""
        instant = max(utcnow(), self._last_instant + timedelta(milliseconds=1))
        self._last_instant = instant
        return instant

    # -- applications and catalogue -------------------------------------------------------------------

    def create_application(self, merchant_id: str, name: str, key: str | None = None) -> Application:
        app = Application(len(self.applications) + 1, key or f"sandbox_{secrets.token_hex(16)}", name, merchant_id)
        self.applications[app.key] = app
        self.catalogues.setdefault(merchant_id, {})
        return app

    def catalogue(self, merchant_id: str) -> dict[str, Product]:
        return self.catalogues.setdefault(merchant_id, {})

    def reserved(self, merchant_id: str, sku: str, *, excluding: int | None = None) -> int:
        """Units of validated parcels not shipped yet: promised, not sellable again."""
        return sum(
            p.items.get(sku, 0)
            for p in self.parcels.values()
            if p.application.merchant_id == merchant_id
            and p.id != excluding
            and p.validated_at is not None
            and p.status not in SHIPPED_OR_LATER
            and p.status != "CANCELLED"
        )

    def product_json(self, merchant_id: str, product: Product) -> dict[str, Any]:
        reserved = self.reserved(merchant_id, product.sku)
        stock = {"available": product.available, "reserved": reserved, "stored": product.stored}
        return {"sku": product.sku, "name": product.name, "stock": stock}

    def seed(self, merchant_id: str, sku: str, available: int, name: str | None = None) -> Product:
        product = Product(sku, name or sku, max(0, available), max(0, available))
        self.catalogue(merchant_id)[sku] = product
        return product

    def move_stock(self, merchant_id: str, sku: str, delta: int, movement: str) -> Product:
        """A stock movement: `stock.updated` to every application of the merchant."""
        catalogue = self.catalogue(merchant_id)
        product = catalogue.get(sku) or catalogue.setdefault(sku, Product(sku, sku, 0, 0))
        product.available = max(0, product.available + delta)
        product.stored = max(0, product.stored + delta)
        data = {"sku": sku, "available": product.available, "movement": movement, "delta": delta}
        for app in self.applications.values():
            if app.merchant_id == merchant_id:
                self._emit(app, "stock.updated", data)
        return product

    # -- parcels --------------------------------------------------------------------------------------

    def find_by_ref(self, app: Application, order_ref: str) -> SandboxParcel | None:
        for parcel in self.parcels.values():
            if parcel.application is app and parcel.order_ref == order_ref:
                return parcel
        return None

    def create_parcel(self, app: Application, body: dict[str, Any]) -> SandboxParcel:
        items: dict[str, int] = {}
        for item in body["items"]:
            items[item["sku"]] = items.get(item["sku"], 0) + int(item["quantity"])
        now = self.now()
        parcel = SandboxParcel(self._next_parcel_id, app, body["orderRef"], body, items, now, now)
        self._next_parcel_id += 1
        self.parcels[parcel.id] = parcel
        self._changed(parcel)
        return parcel

    def _changed(self, parcel: SandboxParcel) -> None:
        parcel.updated_at = self.now()
        parcel.generation += 1
        self._emit(parcel.application, "parcel.updated", parcel.to_json())
        self._on_change(parcel)

    def next_step(self, parcel: SandboxParcel) -> str | None:
        """The lifecycle step that comes next on its own (None: nothing until someone acts)."""
        if parcel.status == "CREATED":
            if parcel.validated_at is not None:
                return "pick"
            return None if parcel.check_failed() else "validate"
        return {"PICKED": "pack", "PACKED": "ship", "SHIPPED": "in_transit", "CARRIER_IN_TRANSIT": "deliver"}.get(
            parcel.status
        )

    def validate(self, parcel: SandboxParcel) -> None:
        """Address and stock checks; validated when both pass, else it stays CREATED with the failure."""
        if parcel.status != "CREATED" or parcel.validated_at is not None:
            return
        before = {name: dict(check) for name, check in parcel.validations.items()}
        address = parcel.body.get("address") or {}
        zipcode = str(address.get("zip") or "")
        bad_zip = address.get("country") in _ZIP_COUNTRIES and not re.fullmatch(r"\d{5}", zipcode)
        parcel.validations["address"] = {"status": "FAILED"} if bad_zip else {"status": "PASSED"}
        merchant = parcel.application.merchant_id
        catalogue = self.catalogue(merchant)
        stock: dict[str, Any] = {"status": "PASSED"}
        if any(sku not in catalogue for sku in parcel.items):
            stock = {"status": "FAILED", "error": "VALIDATION_FAILED"}
        elif any(
            catalogue[sku].available - self.reserved(merchant, sku, excluding=parcel.id) < quantity
            for sku, quantity in parcel.items.items()
        ):
            stock = {"status": "FAILED", "error": "STOCK_CHECK_FAILED"}
        parcel.validations["stock"] = stock
        if not parcel.check_failed():
            parcel.validated_at = self.now()
        if parcel.validated_at is not None or parcel.validations != before:
            self._changed(parcel)  # as Cubyn: an event when the parcel changes, not at every re-check

    def force_check(self, parcel: SandboxParcel, check: str, status: str, error: str | None) -> None:
        parcel.validations[check] = {"status": status, **({"error": error} if error else {})}
        passed = all(c.get("status") == "PASSED" for c in parcel.validations.values())
        parcel.validated_at = (parcel.validated_at or self.now()) if passed else None
        self._changed(parcel)

    def revalidate_failed(self, merchant_id: str) -> list[SandboxParcel]:
        """After a stock movement: parcels that failed their stock check try again."""
        retried = []
        for parcel in list(self.parcels.values()):
            stock = parcel.validations.get("stock", {})
            if (
                parcel.application.merchant_id == merchant_id
                and parcel.status == "CREATED"
                and stock.get("status") == "FAILED"
            ):
                self.validate(parcel)
                retried.append(parcel)
        return retried

    def advance(self, parcel: SandboxParcel) -> None:
        """Run the next lifecycle step now (a failed validation is run again)."""
        if parcel.status == "CREATED" and parcel.validated_at is None:
            for name, check in list(parcel.validations.items()):
                if check.get("status") == "FAILED":
                    parcel.validations[name] = {"status": "PENDING"}
            self.validate(parcel)
            return
        step = self.next_step(parcel)
        target = {
            "pick": "PICKED",
            "pack": "PACKED",
            "ship": "SHIPPED",
            "in_transit": "CARRIER_IN_TRANSIT",
            "deliver": "CARRIER_DELIVERED",
        }.get(step or "")
        if target:
            self.set_status(parcel, target)

    def set_status(self, parcel: SandboxParcel, status: str) -> None:
        """Move to any status (also unknown ones); shipping assigns carrier and tracking and moves stock."""
        if (status in ("PICKED", "PACKED") or status in SHIPPED_OR_LATER) and parcel.validated_at is None:
            parcel.validations = {"address": {"status": "PASSED"}, "stock": {"status": "PASSED"}}
            parcel.validated_at = self.now()
        if status in SHIPPED_OR_LATER and parcel.shipped_at is None:
            parcel.status = status
            parcel.shipped_at = self.now()
            parcel.carrier = CARRIERS.get(parcel.delivery_mode, "COLISSIMO")
            parcel.carrier_tracking_id = f"6A{parcel.id:011d}"
            for sku, quantity in parcel.items.items():
                self.move_stock(parcel.application.merchant_id, sku, -quantity, "FULFILMENT")
        parcel.status = status
        self._changed(parcel)

    def cancel(self, parcel: SandboxParcel) -> bool:
        """Cancel while CREATED (True); an already cancelled parcel stays so (True); otherwise False."""
        if parcel.status == "CANCELLED":
            return True
        if parcel.status != "CREATED":
            return False
        parcel.status = "CANCELLED"
        self._changed(parcel)
        return True
