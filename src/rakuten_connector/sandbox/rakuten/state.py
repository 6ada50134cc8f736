"""The Rakuten sandbox's world: sellers, their sales, items, inventory and stock files, with Rakuten's rules.

Everything lives in memory in one `RakutenWorld` (a simulator); its parts are in `models.py`. Web-service
refusals are `WsError`s, which the app renders as `errorresponse` documents. Business rules:
- only waiting items (TO_CONFIRM, REQUESTED, REMINDED) can be accepted or refused;
- only accepted items (ACCEPTED, COMMITTED) can get tracking (once) or be cancelled;
- a waiting item not decided within `acceptance_deadline_hours` is cancelled by "Rakuten";
- getnewsales lists sales of the last 48 hours that still have a waiting item;
- getiteminfos marks the item's messages read (the merchant may then miss them in the back office);
- stock files are processed `upload_delay_seconds` after upload; a line whose SKU has no offer in the
  seller's inventory fails with error code 60, key `alias` ("L'alias est obligatoire ..."), as on Rakuten.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from lxml import etree

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.sandbox.rakuten.models import (
    ACCEPTED,
    MAX_FILE_BYTES,
    NEW_SALES_WINDOW,
    WAITING,
    SbAdvert,
    SbItem,
    SbProductResult,
    SbSale,
    SbTracking,
    SbUpload,
    Seller,
    WsError,
    decode_token,
    encode_token,
    parameter_error,
)

# (error_key, error_code, error_text) of a stock line whose SKU has no offer.
NO_OFFER_ERROR = ("alias", "60", "L'alias est obligatoire pour les créations de produit.")


class RakutenWorld:
    """All sellers and their data; `now()` is the sandbox clock (shiftable)."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = utcnow,
        upload_delay_seconds: float = 1.0,
        sales_page_size: int = 100,
        export_page_size: int = 1000,
        report_page_size: int = 100,
    ) -> None:
        self.clock = clock
        self.offset = timedelta()
        self.upload_delay = timedelta(seconds=upload_delay_seconds)
        self.sales_page_size = sales_page_size
        self.export_page_size = export_page_size
        self.report_page_size = report_page_size
        self.sellers: dict[str, Seller] = {}
        self._purchase_ids = itertools.count(31862101)
        self._item_ids = itertools.count(260306083)
        self._advert_ids = itertools.count(691501318)
        self._import_ids = itertools.count(35826776)
        self._seller_ids = itertools.count(123456)

    def now(self) -> datetime:
        return self.clock().astimezone(UTC) + self.offset

    def next_purchase_id(self) -> str:
        return str(next(self._purchase_ids))

    def next_item_id(self) -> str:
        return str(next(self._item_ids))

    def next_advert_id(self) -> str:
        return str(next(self._advert_ids))

    # -- sellers, auth and quota ------------------------------------------------------------------------

    def add_seller(self, login: str, token: str, **options: int | float | None) -> Seller:
        seller = Seller(login=login, token=token, seller_id=str(next(self._seller_ids)))
        for key, value in options.items():
            if value is not None:
                setattr(seller, key, value)
        self.sellers[login] = seller
        return seller

    def authenticate(self, login: str, pwd: str) -> Seller:
        seller = self.sellers.get(login)
        if seller is None or not pwd or seller.token != pwd:
            raise WsError("InvalidUserConnection", "Unknown user or password.")
        return seller

    def count_call(self, seller: Seller, *, is_file: bool = False) -> None:
        hour = self.now().strftime("%Y-%m-%dT%H")
        used = seller.calls_per_hour.get(hour, 0) + 1
        seller.calls_per_hour = {hour: used}
        if seller.quota_per_hour is not None and used > seller.quota_per_hour:
            raise WsError("InvalidUserRights", "Quota exceeded.")
        if is_file:
            files = seller.files_this_hour.get(hour, 0) + 1
            seller.files_this_hour = {hour: files}
            if files > seller.files_per_hour:
                raise WsError(
                    "InvalidUserRights", "Quota exceeded.", [f"At most {seller.files_per_hour} files per hour."]
                )

    def tick(self, seller: Seller) -> None:
        """What happens with time: late sales are cancelled, due stock files are processed."""
        now = self.now()
        deadline = timedelta(hours=seller.acceptance_deadline_hours)
        for sale in seller.sales.values():
            if now - sale.purchased_at > deadline:
                for item in sale.items:
                    if item.status in WAITING:
                        item.status = "CANCELLED"
        for upload in seller.uploads.values():
            if upload.processed_at is None and now - upload.received_at >= self.upload_delay:
                self._process(seller, upload, now)

    # -- sales ------------------------------------------------------------------------------------------

    def add_sale(self, seller: Seller, sale: SbSale) -> SbSale:
        if sale.purchase_id in seller.sales:
            raise ValueError(f"purchase {sale.purchase_id} already exists")
        for item in sale.items:
            if item.item_id in seller.items:
                raise ValueError(f"item {item.item_id} already exists")
        seller.sales[sale.purchase_id] = sale
        for item in sale.items:
            seller.items[item.item_id] = (sale, item)
        return sale

    def item(self, seller: Seller, item_id: str) -> tuple[SbSale, SbItem]:
        found = seller.items.get(item_id)
        if found is None:
            raise parameter_error("Invalid itemid.", f"L'article {item_id} est inconnu.")
        return found

    def read_messages(self, item: SbItem) -> None:
        for message in item.messages:
            message.read = True

    def new_sales(self, seller: Seller) -> list[SbSale]:
        since = self.now() - NEW_SALES_WINDOW
        return [
            sale
            for sale in seller.sales.values()
            if sale.purchased_at >= since and any(i.status in WAITING for i in sale.items)
        ]

    def current_sales_page(self, seller: Seller, since: date | None, token: str) -> tuple[list[SbSale], str]:
        offset = decode_token("getcurrentsales", token)
        sales = [
            sale
            for sale in seller.sales.values()
            if any(i.status not in WAITING for i in sale.items)
            and (since is None or sale.purchased_at.date() >= since)
        ]
        sales.sort(key=lambda s: (s.purchased_at, s.purchase_id))
        end = offset + self.sales_page_size
        return sales[offset:end], encode_token("getcurrentsales", end) if end < len(sales) else ""

    def accept(self, seller: Seller, item_id: str, shipping_from_country: str) -> None:
        if not shipping_from_country.isdigit():
            raise parameter_error(
                "Invalid shippingfromcountry.", "shippingfromcountry must be a numeric country code"
            )
        _, item = self.item(seller, item_id)
        if item.status not in WAITING:
            raise parameter_error(
                "The item cannot be accepted.", f"L'article {item_id} a le statut {item.status}."
            )
        item.status, item.shipping_from_country = "ACCEPTED", shipping_from_country

    def refuse(self, seller: Seller, item_id: str) -> None:
        _, item = self.item(seller, item_id)
        if item.status not in WAITING:
            raise parameter_error("The item cannot be refused.", f"L'article {item_id} a le statut {item.status}.")
        item.status = "REFUSED"

    def cancel(self, seller: Seller, item_id: str, comment: str) -> None:
        if not comment.strip() or len(comment) > 400:
            raise parameter_error("Invalid comment.", "comment is required and at most 400 characters")
        _, item = self.item(seller, item_id)
        if item.status not in ACCEPTED:
            raise parameter_error(
                "This item cannot be cancelled", f"L'article {item_id} a le statut {item.status}."
            )
        item.status, item.cancel_comment = "CANCELLED", comment

    def set_tracking(self, seller: Seller, item_id: str, transporter: str, number: str, url: str) -> None:
        if not transporter or not number:
            raise parameter_error("Missing parameter.", "transporter_name and tracking_number are required")
        if transporter == "Autre" and not url:
            raise parameter_error("Missing parameter.", "tracking_url is mandatory when the transporter is Autre")
        _, item = self.item(seller, item_id)
        if item.tracking is not None:
            raise parameter_error("Invalid item.", f"Article {item_id} : a déjà été expédié")
        if item.status not in ACCEPTED:
            raise parameter_error("Invalid item.", f"Article {item_id} : statut incorrect ({item.status})")
        item.tracking = SbTracking(transporter=transporter, number=number, url=url)

    def import_tracking(self, seller: Seller, content: bytes) -> None:
        """importitemshippingstatus: valid lines are applied; invalid ones make the whole answer an error."""
        root = parse_upload(content)
        failures: list[str] = []
        for line in (e for e in root.iter() if local(e.tag) == "item"):
            values = {local(c.tag): (c.text or "").strip() for c in line if isinstance(c.tag, str)}
            item_id = values.get("itemid", "")
            try:
                self.set_tracking(
                    seller,
                    item_id,
                    values.get("transporter", ""),
                    values.get("trackingnumber", ""),
                    values.get("trackingurl", ""),
                )
            except WsError as exc:
                failures.extend(exc.details or [f"Article {item_id} : {exc.message}"])
        if failures:
            raise parameter_error("Some items could not be updated.", *failures)

    # -- stock ------------------------------------------------------------------------------------------

    def set_inventory(self, seller: Seller, adverts: list[SbAdvert]) -> None:
        seller.adverts = adverts
        seller.adverts_by_sku = {a.sku: a for a in adverts if a.sku}

    def export_page(self, seller: Seller, token: str) -> tuple[list[SbAdvert], str]:
        offset = decode_token("export", token)
        end = offset + self.export_page_size
        return seller.adverts[offset:end], encode_token("export", end) if end < len(seller.adverts) else ""

    def upload(self, seller: Seller, filename: str, content: bytes) -> SbUpload:
        if len(content) > MAX_FILE_BYTES:
            raise parameter_error("File too large.", "Files are limited to 30 MB.")
        root = parse_upload(content)
        lines: list[tuple[str, str]] = []
        for advert in (e for e in root.iter() if local(e.tag) == "advert"):
            values: dict[str, str] = {}
            for attribute in (a for a in advert if local(a.tag) == "attribute"):
                parts = {local(c.tag): "".join(c.itertext()).strip() for c in attribute if isinstance(c.tag, str)}  # type: ignore[arg-type]
                values[parts.get("key", "")] = parts.get("value", "")
            lines.append((values.get("sellerReference", ""), values.get("qty", "")))
        upload = SbUpload(str(next(self._import_ids)), filename, self.now(), lines)
        seller.uploads[upload.import_id] = upload
        return upload

    def report_page(self, seller: Seller, file_id: str, token: str) -> tuple[SbUpload, list[SbProductResult], str]:
        upload = seller.uploads.get(file_id)
        if upload is None:
            raise parameter_error("Invalid fileid.", f"Le fichier {file_id} est inconnu.")
        offset = decode_token("genericimportreport", token)
        end = offset + self.report_page_size
        page = upload.results[offset:end]
        return upload, page, encode_token("genericimportreport", end) if end < len(upload.results) else ""

    def _process(self, seller: Seller, upload: SbUpload, now: datetime) -> None:
        for sku, qty in upload.lines:
            advert = seller.adverts_by_sku.get(sku)
            if advert is None:  # no offer to update: Rakuten takes the line for a product creation
                upload.results.append(SbProductResult(sku, "Erreur", [NO_OFFER_ERROR]))
            elif not qty.isdigit():
                upload.results.append(
                    SbProductResult(sku, "Erreur", [("qty", "INVALID_VALUE", f"Quantité invalide : {qty}")])
                )
            else:
                advert.stock = int(qty)
                upload.results.append(SbProductResult(sku, "Traité", advert_id=advert.advert_id))
        upload.processed_at = now


def local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def parse_upload(content: bytes) -> etree._Element:
    """Uploaded files are parsed as safely as the client parses answers: no DTD, no entities, no network."""
    if b"<!doctype" in content[:4096].lower():
        raise parameter_error("Invalid file.", "DTDs are not accepted")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise parameter_error("Invalid file.", f"The file is not valid XML: {exc.msg}") from None
