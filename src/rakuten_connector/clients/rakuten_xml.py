"""Namespace-agnostic reading of Rakuten's XML answers: element helpers,
the error document check and the conversions to typed results. Documents are read by `rakuten_reader`.
Names are compared by local name; every text is trimmed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import cast
from zoneinfo import ZoneInfo

from lxml import etree

from rakuten_connector.clients.rakuten_errors import (
    RakutenCredentialsError,
    RakutenInvalidResponse,
    RakutenPermanentError,
    RakutenQuotaExceeded,
    RakutenTransientError,
    next_hour,
)
from rakuten_connector.clients.rakuten_models import (
    PRODUCT_OK_STATUS,
    Address,
    Advert,
    ImportFileResult,
    Item,
    ItemInfo,
    ProductError,
    ProductReport,
    RelayPoint,
    Sale,
    normalize_label,
)

Element = etree._Element

PARIS = ZoneInfo("Europe/Paris")
_DATE_FORMATS = ("%d/%m/%Y-%H:%M", "%d/%m/%Y-%H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y")


# -- element helpers (namespace-agnostic, trimmed) ------------------------------------------------------


def local(tag: object) -> str:
    """The name without its namespace; '' for comments and processing instructions."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def text(element: Element | None) -> str:
    if element is None:
        return ""
    if len(element) == 0:  # a leaf: the common case, and the fast one
        return (element.text or "").strip()
    return "".join(cast(Iterator[str], element.itertext())).strip()


def fields(element: Element | None) -> dict[str, Element]:
    """Children by local name (the first one of each name): one pass instead of a scan per field."""
    found: dict[str, Element] = {}
    if element is not None:
        for sub in element:
            if isinstance(sub.tag, str):
                found.setdefault(sub.tag.rpartition("}")[2], sub)
    return found


def field_text(found: dict[str, Element], name: str) -> str:
    return text(found.get(name))


def child(element: Element | None, name: str) -> Element | None:
    if element is not None:
        for sub in element:
            if local(sub.tag) == name:
                return sub
    return None


def children(element: Element | None, name: str) -> list[Element]:
    return [] if element is None else [sub for sub in element if local(sub.tag) == name]


def first(*elements: Element | None) -> Element | None:
    """The first element that exists (never `a or b`: an lxml element without children is falsy)."""
    return next((e for e in elements if e is not None), None)


def path(element: Element | None, *names: str) -> Element | None:
    for name in names:
        element = child(element, name)
    return element


def descendant(element: Element | None, name: str) -> Element | None:
    if element is not None:
        for sub in element.iter():
            if local(sub.tag) == name:
                return sub
    return None


def path_text(element: Element | None, *names: str) -> str:
    return text(path(element, *names))


def to_decimal(value: str) -> Decimal | None:
    try:
        return Decimal(value.replace(",", ".").replace(" ", "")) if value else None
    except InvalidOperation:
        return None


def to_int(value: str) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        number = to_decimal(value)
        return int(number) if number is not None and number == number.to_integral_value() else None


def to_bool(value: str) -> bool:
    return value.strip().casefold() in {"y", "yes", "o", "oui", "true", "1"}


def parse_purchase_date(raw: str) -> datetime | None:
    """`dd/mm/yyyy-HH:MM`, Paris time, to an aware UTC datetime (None when unreadable)."""
    for fmt in _DATE_FORMATS:
        try:
            naive = datetime.strptime(raw.strip(), fmt)  # Paris local time, zoned below
        except ValueError:
            continue
        return naive.replace(tzinfo=PARIS).astimezone(UTC)
    return None


# -- errors ---------------------------------------------------------------------------------------------


def raise_for_error_document(root: Element, now: datetime) -> None:
    """Raise the typed error an `errorresponse` stands for, whatever the HTTP status was."""
    if local(root.tag) != "errorresponse":
        return
    error = child(root, "error")
    if error is None:
        raise RakutenTransientError("Rakuten answered an error without details")
    code, message, kind = path_text(error, "code"), path_text(error, "message"), path_text(error, "type")
    details = [text(d) for d in children(child(error, "details"), "detail")]
    if code == "InvalidUserConnection":
        raise RakutenCredentialsError(message or "Unknown user or password.")
    if code == "InvalidUserRights" and "quota" in message.casefold():
        raise RakutenQuotaExceeded(message, next_hour(now))
    if code == "ServerError" or kind.casefold() == "unknown error" or "unavailable" in message.casefold():
        raise RakutenTransientError(f"{code or kind}: {message}")
    raise RakutenPermanentError(code or kind or "Unknown", message, details)


# -- conversions ----------------------------------------------------------------------------------------

SALE_TAG = "{*}sale"
ADVERT_TAG = "{*}advert"
PRODUCT_TAG = "{*}product"


def parse_address(element: Element | None) -> Address | None:
    if element is None or len(element) == 0:
        return None
    f = fields(element)
    alpha2_raw = field_text(f, "countryalpha2")
    alpha2 = "FR" if alpha2_raw.upper() == "FX" else alpha2_raw.upper()
    return Address(
        civility=field_text(f, "civility"),
        first_name=field_text(f, "firstname"),
        last_name=field_text(f, "lastname"),
        address1=field_text(f, "address1"),
        address2=field_text(f, "address2"),
        zipcode=field_text(f, "zipcode"),
        city=field_text(f, "city"),
        country=field_text(f, "country"),
        country_alpha2=alpha2,
        phone1=field_text(f, "phonenumber1"),
        phone2=field_text(f, "phonenumber2"),
        country_alpha2_raw=alpha2_raw,
    )


def parse_relay_point(element: Element | None) -> RelayPoint | None:
    if element is None or len(element) == 0:
        return None
    f = fields(element)
    return RelayPoint(
        id=field_text(f, "id"),
        name=field_text(f, "name"),
        address=field_text(f, "address"),
        zipcode=field_text(f, "zipcode"),
        city=field_text(f, "city"),
        country=field_text(f, "country"),
        civility=field_text(f, "civility"),
        first_name=field_text(f, "firstname"),
        last_name=field_text(f, "lastname"),
        contract_level=field_text(f, "contractlevel"),
    )


def parse_item(element: Element) -> Item:
    f = fields(element)
    price = fields(f.get("price"))
    return Item(
        item_id=field_text(f, "itemid"),
        sku=field_text(f, "sku"),
        advert_id=field_text(f, "advertid"),
        headline=field_text(f, "headline"),
        status=field_text(f, "itemstatus"),
        is_nego=to_bool(field_text(f, "isnego")),
        price=to_decimal(field_text(price, "amount")),
        currency=field_text(price, "currency") or "EUR",
        is_preorder=to_bool(field_text(f, "ispreorder")),
        ean=field_text(f, "ean").strip(";"),
        payment_status=field_text(f, "paymentstatus"),
    )


def parse_sale(element: Element) -> Sale:
    f = fields(element)
    delivery = fields(f.get("deliveryinformation"))
    raw_date = field_text(f, "purchasedate")
    return Sale(
        purchase_id=field_text(f, "purchaseid"),
        purchased_at=parse_purchase_date(raw_date),
        shipping_type=field_text(delivery, "shippingtype"),
        delivery_address=parse_address(delivery.get("deliveryaddress")),
        billing_address=parse_address(delivery.get("billingaddress")),
        relay_point=parse_relay_point(delivery.get("collectionpointaddress")),
        buyer_email=field_text(delivery, "purchasebuyeremail"),
        buyer_login=field_text(delivery, "purchasebuyerlogin"),
        items=tuple(parse_item(item) for item in children(f.get("items"), "item")),
        purchase_date_raw=raw_date,
    )


def parse_advert(element: Element) -> Advert:
    f = fields(element)
    return Advert(
        advert_id=field_text(f, "advertid"),
        sku=field_text(f, "sku"),
        stock=to_int(field_text(f, "stock")),
        price=to_decimal(field_text(fields(f.get("price")), "amount")),
        quality=field_text(f, "quality"),
        unlimited_quantity=to_bool(field_text(f, "unlimitedquantity")),
    )


def parse_product(element: Element) -> ProductReport:
    f = fields(element)  # one pass over the product's children: a report lists one per SKU sent
    status = field_text(f, "status")
    errors = tuple(
        ProductError(
            key=field_text(e, "error_key"), code=field_text(e, "error_code"), text=field_text(e, "error_text")
        )
        for e in map(fields, children(f.get("errors"), "error"))
    )
    return ProductReport(
        sku=field_text(f, "sku"),
        status=status,
        ok=normalize_label(status) == PRODUCT_OK_STATUS and not errors,
        errors=errors,
        pid=field_text(f, "pid"),
        aid=field_text(f, "aid"),
    )


def response_of(root: Element) -> Element:
    response = child(root, "response")
    return root if response is None else response


def next_token(root: Element) -> str:
    response = response_of(root)
    return text(first(child(response, "nexttoken"), descendant(response, "nexttoken")))


def parse_status(root: Element) -> str:
    """`response/status` whatever the root is called."""
    response = response_of(root)
    return text(first(child(response, "status"), descendant(response, "status")))


def parse_item_info(root: Element, item_id: str) -> ItemInfo:
    """getiteminfos: `response/item` (exactly one), whatever the root is called. Only the item's own
    `itemid`, `itemstatus` and optional `shipped` are read: its other blocks (claim, availableactions,
    mail, message, itemlog) may hold elements of the same names, which say nothing of its current state."""
    items = children(response_of(root), "item")
    # A lone item without an id is taken as the one asked for; an item naming another id never is (its
    # status would be applied to ours).
    lone = items[0] if len(items) == 1 and not path_text(items[0], "itemid") else None
    item = next((i for i in items if path_text(i, "itemid") == item_id), lone)
    if item is None:
        raise RakutenInvalidResponse(f"Rakuten's getiteminfos answer holds {len(items)} items, not item {item_id}")
    f = fields(item)
    shipped = field_text(f, "shipped").strip()
    return ItemInfo(
        item_id=item_id,
        status=field_text(f, "itemstatus"),
        shipped={"1": True, "0": False}.get(shipped),  # anything else says nothing
    )


def parse_import_result(root: Element) -> ImportFileResult:
    response = response_of(root)
    import_id = text(descendant(response, "importid"))
    if not import_id:
        raise RakutenInvalidResponse("Rakuten accepted the file but gave no import id")
    return ImportFileResult(import_id=import_id, status=parse_status(root))


def parse_report_file(root: Element) -> dict[str, str]:
    """`response/file/*` as raw strings (filename, status, totallines...)."""
    file = path(response_of(root), "file")
    return {} if file is None else {local(e.tag): text(e) for e in file if isinstance(e.tag, str)}
