"""The Cubyn sandbox's answers, in Cubyn's JSON: parcels and products as the contract shows them (also the
`data` of webhook events), errors as `{"message", ...}`, and the control API's views of applications and
parcels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import JSONResponse

from rakuten_connector.sandbox.cubyn.models import Application, Product, SandboxParcel


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message_response(status_code: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"message": message, **extra}, status_code=status_code)


def parcel_json(parcel: SandboxParcel) -> dict[str, Any]:
    return {
        "id": parcel.id,
        "orderRef": parcel.order_ref,
        "status": parcel.status,
        "validations": {name: dict(check) for name, check in parcel.validations.items()},
        "validatedAt": iso(parcel.validated_at),
        "deliveryMode": parcel.delivery_mode,
        "deliverySigned": bool(parcel.body.get("deliverySigned")),
        "carrier": parcel.carrier,
        "carrierTrackingId": parcel.carrier_tracking_id,
        "createdAt": iso(parcel.created_at),
        "updatedAt": iso(parcel.updated_at),
        "shippedAt": iso(parcel.shipped_at),
    }


def product_json(product: Product, reserved: int) -> dict[str, Any]:
    stock = {"available": product.available, "reserved": reserved, "stored": product.stored}
    return {"sku": product.sku, "name": product.name, "stock": stock}


def application_json(app: Application) -> dict[str, Any]:
    """An application as the control API shows it (never its webhook secret)."""
    return {
        "id": app.id,
        "key": app.key,
        "name": app.name,
        "merchant_id": app.merchant_id,
        "webhook_url": app.webhook_url,
    }


def parcel_record(parcel: SandboxParcel) -> dict[str, Any]:
    """A parcel as the control API shows it: the contract's view, whose it is and the request it came from."""
    return {
        "parcel": parcel_json(parcel),
        "application_id": parcel.application.id,
        "merchant_id": parcel.application.merchant_id,
        "request": parcel.body,
    }
