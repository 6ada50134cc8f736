"""The sandbox's answers, looking like Rakuten's: ISO-8859-1 bytes, a default namespace on the root (the old
`pmcdn.priceminister.com` family for sales and errors, the newer `fr.shopping.rakuten.com` one for stock),
values in CDATA surrounded by whitespace and newlines, empty elements as `<phonenumber1/>`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from lxml import etree

from rakuten_connector.sandbox.rakuten.models import (
    ACCEPTED,
    WAITING,
    SbAddress,
    SbAdvert,
    SbItem,
    SbProductResult,
    SbRelayPoint,
    SbSale,
    SbUpload,
    WsError,
)

PARIS = ZoneInfo("Europe/Paris")
OLD_SCHEMA = "http://pmcdn.priceminister.com/res/schema/"
NEW_SCHEMA = "https://fr.shopping.rakuten.com/res/schema/"
ROOTS = {
    "getnewsales": "getnewsalesresult",
    "getcurrentsales": "getcurrentsalesresult",
    "acceptsale": "saleacceptanceresult",
    "refusesale": "salerefusalresult",
    "getiteminfos": "getiteminfosresult",
    "cancelitem": "cancelitemresult",
    "settrackingpackageinfos": "setshippingpackageinfosresult",
    "importitemshippingstatus": "importresult",
    "export": "inventoryresult",
    "genericimportfile": "importresult",
    "genericimportreport": "genericimportreportresult",
}
STOCK_ACTIONS = frozenset({"export", "genericimportfile", "genericimportreport"})
XML_MEDIA_TYPE = "text/xml; charset=ISO-8859-1"


class _Doc:
    """A document in one default namespace."""

    def __init__(self, root: str, namespace: str) -> None:
        self.ns = namespace
        self.root = etree.Element(f"{{{namespace}}}{root}", nsmap={None: namespace})  # type: ignore[dict-item]

    def sub(
        self, parent: etree._Element, tag: str, value: str | None = None, *, cdata: bool = False
    ) -> etree._Element:
        element = etree.SubElement(parent, f"{{{self.ns}}}{tag}")
        if value:
            element.text = _cdata(value) if cdata else value
        return element

    def bytes(self) -> bytes:
        content = etree.tostring(self.root, encoding="ISO-8859-1", xml_declaration=True, pretty_print=True)
        assert isinstance(content, bytes)
        return content


def _cdata(value: str) -> etree.CDATA | str:
    """CDATA with the whitespace Rakuten leaves around values, when the value fits in ISO-8859-1."""
    try:
        value.encode("iso-8859-1")
    except UnicodeEncodeError:
        return value  # lxml writes it as character references
    return value if "]]>" in value else etree.CDATA(f"\n        {value}\n      ")


def _start(action: str, login: str, version: str) -> tuple[_Doc, etree._Element]:
    family = NEW_SCHEMA if action in STOCK_ACTIONS else OLD_SCHEMA
    doc = _Doc(ROOTS[action], family + action)
    request = doc.sub(doc.root, "request")
    doc.sub(request, "version", version)
    doc.sub(request, "user", login)
    response = doc.sub(doc.root, "response")
    doc.sub(response, "lastversion", version)
    return doc, response


def paris_date(value: datetime) -> str:
    return value.astimezone(PARIS).strftime("%d/%m/%Y-%H:%M")


def _address(doc: _Doc, parent: etree._Element, tag: str, address: SbAddress | SbRelayPoint | None) -> None:
    if address is not None:
        block = doc.sub(parent, tag)
        for key, value in address.model_dump().items():
            doc.sub(
                block, key, value, cdata=key in {"lastname", "firstname", "address1", "address2", "city", "name"}
            )


def _item(doc: _Doc, parent: etree._Element, item: SbItem) -> None:
    element = doc.sub(parent, "item")
    doc.sub(element, "sku", item.sku, cdata=True)
    doc.sub(element, "advertid", item.advert_id)
    listed = doc.sub(element, "advertpricelisted")
    doc.sub(listed, "amount", str(item.price))
    doc.sub(listed, "currency", "EUR")
    doc.sub(element, "itemid", item.item_id)
    doc.sub(element, "headline", item.headline, cdata=True)
    doc.sub(element, "itemstatus", item.status, cdata=True)
    doc.sub(element, "ispreorder", "Y" if item.is_preorder else "N")
    doc.sub(element, "isnego", "Y" if item.is_nego else "N")
    price = doc.sub(element, "price")
    doc.sub(price, "amount", str(item.price))
    doc.sub(price, "currency", "EUR")
    doc.sub(element, "isrsl", "N")
    doc.sub(element, "ean", f"{item.ean};" if item.ean else "")
    doc.sub(element, "paymentstatus", item.payment_status, cdata=True)


def render_sales(
    action: str, login: str, version: str, seller_id: str, sales: Iterable[SbSale], next_token: str | None = None
) -> bytes:
    doc, response = _start(action, login, version)
    doc.sub(response, "sellerid", seller_id)
    if next_token is not None:
        doc.sub(response, "nexttoken", next_token)
    sales_element = doc.sub(response, "sales")
    for sale in sales:
        element = doc.sub(sales_element, "sale")
        doc.sub(element, "purchaseid", sale.purchase_id)
        doc.sub(element, "purchasedate", paris_date(sale.purchased_at))
        delivery = doc.sub(element, "deliveryinformation")
        doc.sub(delivery, "shippingtype", sale.shipping_type)
        doc.sub(delivery, "isfullrsl", "N")
        doc.sub(delivery, "purchasebuyerlogin", sale.buyer_login, cdata=True)
        doc.sub(delivery, "purchasebuyeremail", sale.buyer_email)
        _address(doc, delivery, "deliveryaddress", sale.delivery_address)
        _address(doc, delivery, "billingaddress", sale.billing_address)
        _address(doc, delivery, "collectionpointaddress", sale.relay_point)
        items = doc.sub(element, "items")
        for item in sale.items:
            _item(doc, items, item)
    return doc.bytes()


def render_status(action: str, login: str, version: str, status: str) -> bytes:
    doc, response = _start(action, login, version)
    doc.sub(response, "status", status)
    return doc.bytes()


# What the seller may still do with an item, by status (getiteminfos `availableactions`).
_ACTIONS = {
    **dict.fromkeys(WAITING, ("acceptsale", "refusesale")),
    **dict.fromkeys(ACCEPTED, ("cancelitem", "settrackingpackageinfos")),
}
CLAIMS = frozenset({"ON_HOLD", "PENDING_CLAIM", "CLAIM"})


def render_item_info(login: str, version: str, seller_id: str, sale: SbSale, item: SbItem) -> bytes:
    """getiteminfos: `response/{lastversion, sellerid, item}`, one item with its status, `shipped` once it
    is past the waiting states, and its claim, actions, mails, messages and log. No tracking field."""
    doc, response = _start("getiteminfos", login, version)
    doc.sub(response, "sellerid", seller_id)
    element = doc.sub(response, "item")
    doc.sub(element, "itemid", item.item_id)
    doc.sub(element, "date", paris_date(sale.purchased_at))
    doc.sub(element, "itemstatus", item.status, cdata=True)
    if item.status not in WAITING:
        doc.sub(element, "shipped", "1" if item.tracking is not None else "0")
    doc.sub(element, "itemstate", "Neuf", cdata=True)
    doc.sub(element, "paymentstatus", item.payment_status, cdata=True)
    if item.status in CLAIMS:
        claim = doc.sub(element, "claim")
        doc.sub(claim, "type", "Réclamation", cdata=True)
        doc.sub(claim, "status", item.status, cdata=True)
    actions = doc.sub(element, "availableactions")
    for name in _ACTIONS.get(item.status, ()):
        if name != "settrackingpackageinfos" or item.tracking is None:
            doc.sub(doc.sub(actions, "action"), "name", name, cdata=True)
    mail = doc.sub(element, "mail")
    doc.sub(mail, "date", paris_date(sale.purchased_at))
    doc.sub(mail, "subject", f"Nouvelle vente n° {sale.purchase_id}", cdata=True)
    for message in item.messages:
        block = doc.sub(element, "message")
        doc.sub(block, "sender", message.sender, cdata=True)
        doc.sub(block, "date", paris_date(message.sent_at))
        doc.sub(block, "content", message.content, cdata=True)
    log = doc.sub(element, "itemlog")
    doc.sub(log, "date", paris_date(sale.purchased_at))
    doc.sub(log, "comment", "Vente créée", cdata=True)
    return doc.bytes()


def render_export(login: str, version: str, adverts: Iterable[SbAdvert], total: int, next_token: str) -> bytes:
    doc, response = _start("export", login, version)
    doc.sub(response, "nbresults", str(total))
    doc.sub(response, "nexttoken", next_token)
    advert_list = doc.sub(response, "advertlist")
    for advert in adverts:
        element = doc.sub(advert_list, "advert")
        doc.sub(element, "advertid", advert.advert_id)
        doc.sub(element, "sku", advert.sku, cdata=True)
        doc.sub(element, "stock", str(advert.stock))
        price = doc.sub(element, "price")
        doc.sub(price, "amount", str(advert.price))
        doc.sub(price, "currency", "EUR")
        doc.sub(element, "quality", advert.quality)
        doc.sub(element, "unlimitedquantity", "N")
    return doc.bytes()


def render_import_result(action: str, login: str, version: str, import_id: str | None) -> bytes:
    doc, response = _start(action, login, version)
    if import_id is not None:
        doc.sub(response, "importid", import_id)
    doc.sub(response, "status", "OK")
    return doc.bytes()


def render_report(
    login: str, version: str, upload: SbUpload, status: str, products: Iterable[SbProductResult], next_token: str
) -> bytes:
    doc, response = _start("genericimportreport", login, version)
    file = doc.sub(response, "file")
    errors = sum(1 for r in upload.results if r.status == "Erreur")
    done = len(upload.results)
    doc.sub(file, "filename", upload.filename, cdata=True)
    doc.sub(file, "status", status, cdata=True)
    doc.sub(file, "uploaddate", paris_date(upload.received_at))
    doc.sub(file, "processdate", paris_date(upload.processed_at) if upload.processed_at else "")
    doc.sub(file, "totallines", str(len(upload.lines)))
    doc.sub(file, "processedlines", str(done))
    doc.sub(file, "errorlines", str(errors))
    doc.sub(file, "successrate", str(round(100 * (done - errors) / done)) if done else "0")
    doc.sub(response, "nexttoken", next_token)
    for result in products:
        product = doc.sub(response, "product")
        doc.sub(product, "sku", result.sku, cdata=True)
        doc.sub(product, "status", result.status, cdata=True)
        doc.sub(product, "aid", result.advert_id)
        if result.errors:
            errors_element = doc.sub(product, "errors")
            for key, code, text in result.errors:
                error = doc.sub(errors_element, "error")
                doc.sub(error, "error_key", key)
                doc.sub(error, "error_code", code)
                doc.sub(error, "error_text", text, cdata=True)
    return doc.bytes()


def render_error(error: WsError) -> bytes:
    doc = _Doc("errorresponse", OLD_SCHEMA + "error")
    element = doc.sub(doc.root, "error")
    doc.sub(element, "type", error.kind)
    doc.sub(element, "code", error.code)
    doc.sub(element, "message", error.message)
    details = doc.sub(element, "details")
    for detail in error.details:
        doc.sub(details, "detail", detail, cdata=True)
    return doc.bytes()
