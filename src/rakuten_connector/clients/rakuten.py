"""Rakuten France seller web services: one async method per action.

Only HTTP: typed results (`rakuten_models`) and typed errors (`rakuten_errors`); no settings, no database.
How a call travels and is read (the token kept secret, the answer bounded) is `rakuten_http`. Per-item
actions are safe to retry: an item already in the wanted state counts as success (`ItemOutcome.ALREADY_DONE`).

getiteminfos (`get_item_info`) is not a free read: Rakuten marks the buyer's messages about the item as read
in the merchant's back office, so the merchant may never see them. It is called only when a decision needs
the item's real status: after a per-item action was refused (`ParameterError`) or answered an unexpected
status, or once for an item that left getnewsales before it was decided. Never in routine polling: anything
periodic reads getcurrentsales (`iter_current_sales`), which gives every item's status without that effect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import date

import structlog

from rakuten_connector.clients.observed import error_kind
from rakuten_connector.clients.rakuten_errors import (
    RakutenAnswerLost,
    RakutenCredentialsError,
    RakutenError,
    RakutenInvalidResponse,
    RakutenItemStateError,
    RakutenPermanentError,
    RakutenQuotaExceeded,
    RakutenTransientError,
    next_hour,
)
from rakuten_connector.clients.rakuten_files import build_stock_file, build_tracking_file
from rakuten_connector.clients.rakuten_http import MAX_RESPONSE_BYTES, VERSIONS, RakutenTransport
from rakuten_connector.clients.rakuten_models import (
    ACCEPTED_OR_LATER_STATUSES,
    CLAIM_STATUSES,
    FINAL_FILE_STATUSES,
    Advert,
    ImportFileResult,
    ImportReport,
    ItemInfo,
    ItemOutcome,
    ProductReport,
    Sale,
    TrackingUpdate,
    normalize_label,
)
from rakuten_connector.clients.rakuten_reader import DocumentReader
from rakuten_connector.clients.rakuten_xml import (
    ADVERT_TAG,
    PRODUCT_TAG,
    SALE_TAG,
    parse_advert,
    parse_import_result,
    parse_item_info,
    parse_product,
    parse_report_file,
    parse_sale,
    parse_status,
    to_int,
)
from rakuten_connector.metrics.families import RAKUTEN_ACTIONS

__all__ = [
    "MAX_RESPONSE_BYTES",
    "VERSIONS",
    "RakutenAnswerLost",
    "RakutenClient",
    "RakutenCredentialsError",
    "RakutenError",
    "RakutenInvalidResponse",
    "RakutenItemStateError",
    "RakutenPermanentError",
    "RakutenQuotaExceeded",
    "RakutenTransientError",
    "next_hour",
]

log = structlog.get_logger(__name__)

MAX_COMMENT_CHARS = 400
SHIPPING_FROM_FRANCE = "249"  # Rakuten's numeric code for France (not ISO 250)
SALES_WS, STOCK_WS = "sales_ws", "stock_ws"
# Success statuses of the per-item actions (compared normalized).
_SUCCESS = {
    "acceptsale": "accepted",
    "refusesale": "refused",
    "cancelitem": "cancelled",
    "settrackingpackageinfos": "ok",
}
# The names the `rakuten_actions_total` series gives the item actions.
_ACTION_NAMES = {
    "acceptsale": "accept",
    "refusesale": "refuse",
    "cancelitem": "cancel",
    "settrackingpackageinfos": "tracking",
}


class RakutenClient(RakutenTransport):
    """Every action of the contract for one seller (see `RakutenTransport` for the plumbing)."""

    # -- sales ------------------------------------------------------------------------------------------

    async def check_credentials(self) -> None:
        """A minimal authenticated call (getnewsales). Raises the typed error on failure."""
        await self._call(SALES_WS, "getnewsales")

    async def get_new_sales(self) -> list[Sale]:
        """Sales of the last 48 hours with items waiting for acceptance (no pagination)."""
        return [sale async for sale in self._stream(SALES_WS, "getnewsales", DocumentReader(SALE_TAG, parse_sale))]

    async def iter_current_sales(self, since: date | None = None) -> AsyncIterator[Sale]:
        """Ongoing sales (accepted, cancelled, claimed...), every page."""
        params = {"purchasedate": since.isoformat()} if since else {}
        async for sale, _ in self._pages(
            SALES_WS, "getcurrentsales", lambda: DocumentReader(SALE_TAG, parse_sale), params
        ):
            if sale is not None:
                yield sale

    async def get_item_info(self, item_id: str) -> ItemInfo:
        """getiteminfos: one item's status. It marks the buyer's messages as read: only when a decision
        needs it, never periodically (see the module's docstring)."""
        return parse_item_info(await self._call(SALES_WS, "getiteminfos", {"itemid": item_id}), item_id)

    async def accept_item(self, item_id: str, shipping_from_country: str = SHIPPING_FROM_FRANCE) -> ItemOutcome:
        params = {"itemid": item_id, "shippingfromcountry": shipping_from_country}
        return await self._item_action(
            "acceptsale", item_id, params, lambda i: i.status in ACCEPTED_OR_LATER_STATUSES
        )

    async def refuse_item(self, item_id: str) -> ItemOutcome:
        return await self._item_action("refusesale", item_id, {"itemid": item_id}, lambda i: i.status == "REFUSED")

    async def cancel_item(self, item_id: str, comment: str) -> ItemOutcome:
        """Cancel an accepted item; `comment` (to the buyer) is required, at most 400 characters."""
        comment = comment.strip()
        if not comment or len(comment) > MAX_COMMENT_CHARS:
            raise ValueError(f"a cancellation comment needs 1 to {MAX_COMMENT_CHARS} characters")
        params = {"itemid": item_id, "comment": comment}
        return await self._item_action("cancelitem", item_id, params, lambda i: i.status == "CANCELLED")

    async def set_tracking(self, update: TrackingUpdate) -> ItemOutcome:
        """settrackingpackageinfos for one item. Already shipped (Rakuten says `shipped`, closed, claimed) = done."""
        if update.transporter == "Autre" and not update.tracking_url:
            raise ValueError("tracking_url is mandatory when the transporter is 'Autre'")
        params = {
            "itemid": update.item_id,
            "transporter_name": update.transporter,
            "tracking_number": update.tracking_number,
            "tracking_url": update.tracking_url,
        }
        return await self._item_action(
            "settrackingpackageinfos",
            update.item_id,
            params,
            lambda i: bool(i.shipped) or i.status == "CLOSED" or i.status in CLAIM_STATUSES,
        )

    async def send_tracking_file(self, updates: Sequence[TrackingUpdate]) -> bool:
        """importitemshippingstatus for many items: True when Rakuten took the whole file, False when it
        refused it (then decide item by item with `set_tracking`)."""
        if not updates:
            return True
        try:
            root = await self._call(
                SALES_WS, "importitemshippingstatus", file=("tracking.xml", build_tracking_file(updates))
            )
        except RakutenPermanentError as exc:
            log.info("rakuten_tracking_file_refused", code=exc.code, items=len(updates))
            return False
        taken = normalize_label(parse_status(root)) == "ok"
        if taken:
            RAKUTEN_ACTIONS.labels("tracking", ItemOutcome.DONE.value).inc(len(updates))
        return taken

    async def _item_action(
        self, action: str, item_id: str, params: Mapping[str, str], is_done: Callable[[ItemInfo], bool]
    ) -> ItemOutcome:
        """The action, counted by what came of it: done, already_done, item_state (the item is elsewhere)
        or the kind of error."""
        try:
            outcome = await self._act_on_item(action, item_id, params, is_done)
        except RakutenItemStateError:
            RAKUTEN_ACTIONS.labels(_ACTION_NAMES[action], "item_state").inc()
            raise
        except RakutenError as exc:
            RAKUTEN_ACTIONS.labels(_ACTION_NAMES[action], error_kind(exc)).inc()
            raise
        RAKUTEN_ACTIONS.labels(_ACTION_NAMES[action], outcome.value).inc()
        return outcome

    async def _act_on_item(
        self, action: str, item_id: str, params: Mapping[str, str], is_done: Callable[[ItemInfo], bool]
    ) -> ItemOutcome:
        try:
            root = await self._call(SALES_WS, action, params)
        except RakutenPermanentError as exc:
            if exc.code != "ParameterError":
                raise
            # Business refusals only say why in free (French) text: read the item's real status instead.
            info = await self.get_item_info(item_id)
            if is_done(info):
                return ItemOutcome.ALREADY_DONE
            raise RakutenItemStateError(
                exc.code, exc.message, exc.details, item_id=item_id, item_status=info.status
            ) from None
        status = parse_status(root)
        if normalize_label(status) == _SUCCESS[action]:
            return ItemOutcome.DONE
        info = await self.get_item_info(item_id)
        if is_done(info):
            return ItemOutcome.DONE
        raise RakutenItemStateError(
            "UnexpectedStatus", f"{action} answered {status!r}", item_id=item_id, item_status=info.status
        )

    # -- stock ------------------------------------------------------------------------------------------

    async def iter_export(self) -> AsyncIterator[Advert]:
        """The whole inventory, every page, streamed: memory stays flat however many adverts there are."""
        async for advert, _ in self._pages(
            STOCK_WS, "export", lambda: DocumentReader(ADVERT_TAG, parse_advert), {}
        ):
            if advert is not None:
                yield advert

    async def generic_import_file(self, content: bytes, filename: str = "stock.xml") -> ImportFileResult:
        root = await self._call(STOCK_WS, "genericimportfile", file=(filename, content))
        return parse_import_result(root)

    async def upload_stock(self, quantities: Mapping[str, int]) -> ImportFileResult:
        """One genericimportfile setting the quantity of every SKU given (at most 10 files an hour)."""
        if not quantities:
            raise ValueError("no stock to upload")
        return await self.generic_import_file(build_stock_file(quantities))

    async def get_import_report(self, import_id: str) -> ImportReport:
        """genericimportreport, every page. Poll until `processed`."""
        file: dict[str, str] = {}
        products: list[ProductReport] = []

        def reader() -> DocumentReader[ProductReport]:
            return DocumentReader(PRODUCT_TAG, parse_product)

        async for product, rest in self._pages(STOCK_WS, "genericimportreport", reader, {"fileid": import_id}):
            if product is not None:
                products.append(product)
            elif rest is not None and not file:
                file = parse_report_file(rest)
        status = file.get("status", "")
        return ImportReport(
            import_id=import_id,
            file_status=status,
            processed=normalize_label(status) in FINAL_FILE_STATUSES,
            file_name=file.get("filename", ""),
            total_lines=to_int(file.get("totallines", "")),
            processed_lines=to_int(file.get("processedlines", "")),
            error_lines=to_int(file.get("errorlines", "")),
            products=tuple(products),
        )
