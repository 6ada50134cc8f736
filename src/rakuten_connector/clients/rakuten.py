"""Rakuten France seller web services (contracts/rakuten-ws.md): one async method per action.

Only HTTP: typed results (`rakuten_models`) and typed errors (`rakuten_errors`); no settings, no database.
The token travels as `pwd` in the query string, so a request URL is a secret: it is never logged nor put
in an exception message (httpx's own URL logging is turned down and redacted; every error is scrubbed).

Every answer is read in chunks into a safe streaming parser (`rakuten_xml`), with a per-request timeout, a
deadline, a size cap and no redirects. Per-item actions are safe to retry: an item already in the wanted
state counts as success (`ItemOutcome.ALREADY_DONE`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import date, datetime
from typing import TypeVar

import httpx
import structlog
from pydantic import SecretStr

from rakuten_connector.clients.rakuten_errors import (
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
    TrackingOutcome,
    TrackingUpdate,
    normalize_label,
)
from rakuten_connector.clients.rakuten_xml import (
    ADVERT_TAG,
    PRODUCT_TAG,
    SALE_TAG,
    DocumentReader,
    Element,
    next_token,
    parse_advert,
    parse_import_result,
    parse_item_info,
    parse_product,
    parse_report_file,
    parse_sale,
    parse_status,
    to_int,
)
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.logging import RedactingFilter

__all__ = [
    "VERSIONS",
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

T = TypeVar("T")
log = structlog.get_logger(__name__)

MAX_RESPONSE_BYTES = 50 * 1024 * 1024
MAX_COMMENT_CHARS = 400
SHIPPING_FROM_FRANCE = "249"  # Rakuten's numeric code for France (not ISO 250)
SALES_WS, STOCK_WS = "sales_ws", "stock_ws"
VERSIONS = {
    "getnewsales": "2017-08-07",
    "getcurrentsales": "2017-08-07",
    "acceptsale": "2021-04-08",
    "refusesale": "2010-09-20",
    "getiteminfos": "2017-08-07",
    "cancelitem": "2011-02-02",
    "settrackingpackageinfos": "2016-03-16",
    "importitemshippingstatus": "2016-05-09",
    "export": "2018-06-29",
    "genericimportfile": "2015-02-02",
    "genericimportreport": "2017-02-10",
}
# Success statuses of the per-item actions (compared normalised).
_SUCCESS = {
    "acceptsale": "accepted",
    "refusesale": "refused",
    "cancelitem": "cancelled",
    "settrackingpackageinfos": "ok",
}


# httpx logs every request URL at INFO and Rakuten URLs carry the token.
for _name in ("httpx", "httpcore", "httpcore.http11", "httpcore.http2", "httpcore.connection"):
    _logger = logging.getLogger(_name)
    _logger.setLevel(max(_logger.level, logging.WARNING))
    if not any(isinstance(f, RedactingFilter) for f in _logger.filters):
        _logger.addFilter(RedactingFilter())


class RakutenClient:
    """Calls for one seller. Build one per connection; `http` may be shared (its own settings are ignored
    for redirects and timeouts: every call passes its own)."""

    def __init__(
        self,
        base_url: str,
        login: str,
        token: SecretStr,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = 20.0,
        deadline: float | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._login = login
        self._token = token
        self._http = http
        self._timeout = httpx.Timeout(timeout)
        self._deadline = deadline if deadline is not None else 3 * timeout
        self._max_bytes = max_response_bytes
        self._clock = clock

    def __repr__(self) -> str:
        return f"RakutenClient(base_url={self._base_url!r}, login={self._login!r})"

    # -- plumbing ---------------------------------------------------------------------------------------

    async def _stream(
        self,
        endpoint: str,
        action: str,
        reader: DocumentReader[T],
        params: Mapping[str, str] | None = None,
        file: tuple[str, bytes] | None = None,
    ) -> AsyncIterator[T]:
        """One HTTP exchange; yields `reader`'s elements as they arrive, leaves the rest in `reader.rest`."""
        http = self._http or httpx.AsyncClient(follow_redirects=False)
        started = time.monotonic()
        status = 0
        try:
            async with http.stream(
                "POST" if file else "GET",
                f"{self._base_url}/{endpoint}",
                # The token is revealed here only, in no variable a traceback with locals could show.
                params={
                    "action": action,
                    "login": self._login,
                    "pwd": self._token.get_secret_value(),
                    "version": VERSIONS[action],
                    **(params or {}),
                },
                files={"file": (file[0], file[1], "text/xml")} if file else None,
                timeout=self._timeout,
                follow_redirects=False,
            ) as response:
                status = response.status_code
                ok = 200 <= status < 300
                reader.fallback_encoding = reader.fallback_encoding or response.charset_encoding
                size = 0
                try:
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > self._max_bytes:
                            raise RakutenInvalidResponse(
                                f"Rakuten {action} answer exceeds {self._max_bytes} bytes"
                            )
                        if time.monotonic() - started > self._deadline:
                            raise RakutenTransientError(f"Rakuten {action} took longer than {self._deadline:g} s")
                        items = reader.feed(chunk)
                        if ok:
                            for item in items:
                                yield item
                    reader.close(self._clock())
                except RakutenInvalidResponse:
                    if ok:
                        raise
                    raise _status_error(action, status) from None
                if not ok:
                    raise _status_error(action, status)
        except httpx.TimeoutException:
            raise RakutenTransientError(f"Rakuten {action} timed out") from None
        except httpx.HTTPError as exc:
            raise RakutenTransientError(f"Rakuten {action} failed: {type(exc).__name__}") from None
        except RakutenError as exc:
            exc.scrub(self._token.get_secret_value())
            log.info("rakuten_call_failed", action=action, status=status, error=type(exc).__name__)
            raise
        finally:
            if self._http is None:
                await http.aclose()
        log.debug("rakuten_call", action=action, status=status, seconds=round(time.monotonic() - started, 3))

    async def _call(
        self,
        endpoint: str,
        action: str,
        params: Mapping[str, str] | None = None,
        file: tuple[str, bytes] | None = None,
    ) -> Element:
        reader: DocumentReader[None] = DocumentReader()
        async for _ in self._stream(endpoint, action, reader, params, file):
            pass
        assert reader.rest is not None
        return reader.rest

    async def _pages(
        self, endpoint: str, action: str, reader_factory: Callable[[], DocumentReader[T]], params: dict[str, str]
    ) -> AsyncIterator[tuple[T | None, Element | None]]:
        """Every page until `nexttoken` comes back empty: (element, None)... then (None, rest) per page."""
        seen: set[str] = set()
        while True:
            reader = reader_factory()
            async for element in self._stream(endpoint, action, reader, params):
                yield element, None
            assert reader.rest is not None
            yield None, reader.rest
            token = next_token(reader.rest)
            if not token:
                return
            if token in seen:
                raise RakutenInvalidResponse(f"Rakuten {action} repeated a page token")
            seen.add(token)
            params = {**params, "nexttoken": token}

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

    async def get_current_sales(self, since: date | None = None) -> list[Sale]:
        return [sale async for sale in self.iter_current_sales(since)]

    async def get_item_info(self, item_id: str) -> ItemInfo:
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
        """settrackingpackageinfos for one item. Already shipped (tracking known, closed, claimed) = done."""
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
            lambda i: bool(i.tracking_number) or i.status == "CLOSED" or i.status in CLAIM_STATUSES,
        )

    async def send_tracking_file(self, updates: Sequence[TrackingUpdate]) -> bool:
        """importitemshippingstatus for many items: True when Rakuten took the whole file, False when it
        refused it (then decide item by item with `set_tracking`, contract section 3)."""
        if not updates:
            return True
        try:
            root = await self._call(
                SALES_WS, "importitemshippingstatus", file=("tracking.xml", build_tracking_file(updates))
            )
        except RakutenPermanentError as exc:
            log.info("rakuten_tracking_file_refused", code=exc.code, items=len(updates))
            return False
        return normalize_label(parse_status(root)) == "ok"

    async def push_tracking(self, updates: Sequence[TrackingUpdate]) -> list[TrackingOutcome]:
        """importitemshippingstatus for many items; after a refused file, item by item (contract section 3).

        Transient, quota and credential errors propagate (retrying is harmless); a permanent refusal of one
        item is reported in its outcome.
        """
        if await self.send_tracking_file(updates):
            return [TrackingOutcome(u.item_id, ItemOutcome.DONE) for u in updates]
        outcomes = []
        for update in updates:
            try:
                outcomes.append(TrackingOutcome(update.item_id, await self.set_tracking(update)))
            except RakutenPermanentError as exc:
                outcomes.append(TrackingOutcome(update.item_id, None, exc))
        return outcomes

    async def _item_action(
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

    async def export(self) -> list[Advert]:
        return [advert async for advert in self.iter_export()]

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


def _status_error(action: str, status: int) -> RakutenError:
    if status >= 500 or status in (408, 429):
        return RakutenTransientError(f"Rakuten {action} answered HTTP {status}")
    if 300 <= status < 400:
        return RakutenPermanentError("HTTP", f"Rakuten {action} answered a redirect (HTTP {status}), not followed")
    return RakutenPermanentError("HTTP", f"Rakuten {action} answered HTTP {status}")
