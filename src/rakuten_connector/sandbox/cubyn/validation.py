"""The create-parcel field checks of the Cubyn contract: what a `POST /parcels` answers 400 for, with the
list of faulty fields."""

from __future__ import annotations

import re
from typing import Any

from rakuten_connector.sandbox.cubyn.models import DELIVERY_MODES

FIELD_MAX, ZIP_MAX, EMAIL_MAX, PHONE_MIN, PHONE_MAX = 35, 8, 70, 4, 13
COUNTRY = re.compile(r"^[A-Z]{2}$")


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
        if not isinstance(country, str) or not COUNTRY.match(country):
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
        if not isinstance(relay.get("country"), str) or not COUNTRY.match(relay["country"]):
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
