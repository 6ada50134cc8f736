"""In-memory state of the Cubyn sandbox: applications, catalogues, parcels and their lifecycle.

Synchronous and event-loop free: every change reports what happened through `emit` (webhook events) and
`on_change` (the simulator schedules the next lifecycle step). See `app.py` for the HTTP side.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.sandbox.cubyn.models import CARRIERS, SHIPPED_OR_LATER, Application, Product, SandboxParcel
from rakuten_connector.sandbox.cubyn.render import parcel_json, product_json

_ZIP_COUNTRIES = frozenset({"FR", "MC"})

Emit = Callable[[Application, str, dict[str, Any]], None]


class CubynState:
    def __init__(self, emit: Emit, on_change: Callable[[SandboxParcel], None] | None = None) -> None:
        self._emit = emit
        self._on_change = on_change or (lambda _parcel: None)
        self.reset()

    def reset(self) -> None:
        self.applications: dict[str, Application] = {}
        self.catalogues: dict[str, dict[str, Product]] = {}
        self._sorted: dict[str, list[Product]] = {}
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

    def sorted_catalogue(self, merchant_id: str) -> list[Product]:
        """The merchant's products by SKU, sorted again only when a product was added (none is ever
        removed, so the same count means the same products): paging a large catalogue stays linear."""
        catalogue = self.catalogue(merchant_id)
        cached = self._sorted.get(merchant_id)
        if cached is None or len(cached) != len(catalogue):
            cached = self._sorted[merchant_id] = sorted(catalogue.values(), key=lambda p: p.sku)
        return cached

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
        return product_json(product, self.reserved(merchant_id, product.sku))

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
        self._emit(parcel.application, "parcel.updated", parcel_json(parcel))
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
