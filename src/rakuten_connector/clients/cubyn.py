"""Cubyn API. Only HTTP: typed results and typed errors.

Error taxonomy: `CubynAuthError` (401, wrong key), `CubynTransientError` (5xx, timeouts, network;
`CubynRateLimited` carries `Retry-After`; `CubynInvalidResponse`: an answer too large, too slow to arrive,
not JSON or nested too deep), `CubynPermanentError` (any other 4xx; subclasses `CubynInvalidFields`,
`CubynNotFound`, `CubynNotCancellable`). The key travels only in the `X-Application` header: it is never
part of a message, a repr or a log line. Every answer is read within a size cap and a total deadline.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
from pydantic import SecretStr, TypeAdapter, ValidationError

from rakuten_connector.clients.bounded import AnswerTooLarge, AnswerTooSlow, bounded_stream
from rakuten_connector.clients.cubyn_errors import (
    CubynAuthError,
    CubynError,
    CubynInvalidFields,
    CubynInvalidResponse,
    CubynNotCancellable,
    CubynNotFound,
    CubynPermanentError,
    CubynRateLimited,
    CubynTransientError,
)
from rakuten_connector.clients.cubyn_models import CatalogProduct, FieldError, Parcel, ParcelId, ParcelRequest
from rakuten_connector.clients.observed import observed
from rakuten_connector.kit.concurrency import in_order
from rakuten_connector.kit.errors import JSON_PARSE_ERRORS

__all__ = [
    "CatalogPage",
    "CubynAuthError",
    "CubynClient",
    "CubynError",
    "CubynInvalidFields",
    "CubynInvalidResponse",
    "CubynNotCancellable",
    "CubynNotFound",
    "CubynPermanentError",
    "CubynRateLimited",
    "CubynTransientError",
    "ParcelCreated",
]

CATALOG_PAGE_LIMIT = 100
# Catalogue pages read at once during a full sync: offset pages do not depend on each other.
CATALOG_CONCURRENCY = 4
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
_PARCEL_ID: TypeAdapter[str] = TypeAdapter(ParcelId)


@dataclass(frozen=True)
class ParcelCreated:
    """Result of `create_parcel`: a new parcel (`created`), or the one this orderRef already has (409)."""

    parcel_id: ParcelId
    created: bool
    parcel: Parcel | None  # None when adopted from a 409: read it with `get_parcel` if needed


@dataclass(frozen=True)
class CatalogPage:
    products: list[CatalogProduct]
    total: int | None


class CubynClient:
    def __init__(
        self,
        base_url: str,
        api_key: SecretStr,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = 20.0,
        deadline: float | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._http = http
        self._timeout = httpx.Timeout(timeout)
        self._deadline = deadline if deadline is not None else 3 * timeout
        self._max_bytes = max_response_bytes

    def __repr__(self) -> str:
        return f"CubynClient(base_url={self._base_url!r})"

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        client = self._http or httpx.AsyncClient(follow_redirects=False)
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        try:
            async with bounded_stream(
                client,
                method,
                f"{self._base_url}{path}",
                max_bytes=self._max_bytes,
                deadline=self._deadline,
                # The key is revealed here only, in no variable a traceback with locals could show.
                headers={**headers, "X-Application": self._api_key.get_secret_value()},
                timeout=self._timeout,
                **kwargs,
            ) as (streamed, chunks):
                content = b"".join([chunk async for chunk in chunks])
                response = httpx.Response(
                    streamed.status_code, headers=streamed.headers, content=content, request=streamed.request
                )
        except AnswerTooLarge:
            raise CubynInvalidResponse(f"Cubyn {method} {path} answer exceeds {self._max_bytes} bytes") from None
        except AnswerTooSlow:
            raise CubynInvalidResponse(f"Cubyn {method} {path} took longer than {self._deadline:g} s") from None
        except httpx.TimeoutException:
            raise CubynTransientError(f"Cubyn {method} {path} timed out") from None
        except httpx.HTTPError as exc:
            raise CubynTransientError(f"Cubyn {method} {path} failed: {type(exc).__name__}") from None
        finally:
            if self._http is None:
                await client.aclose()
        if response.status_code == 401:
            raise CubynAuthError("Cubyn refused the application key")
        if response.status_code == 429:
            raise CubynRateLimited("Cubyn rate limit reached", _retry_after(response))
        if response.status_code >= 500:
            raise CubynTransientError(f"Cubyn {method} {path} answered HTTP {response.status_code}")
        return response

    @observed("cubyn", "check_key")
    async def check_key(self) -> dict[str, Any]:
        """`GET /`: the application the key belongs to. Raises CubynAuthError on a wrong key."""
        response = await self._request("GET", "/")
        if response.status_code != 200:
            raise CubynPermanentError(response.status_code, "unexpected answer to GET /")
        body = _json(response, "GET /")
        return body if isinstance(body, dict) else {}

    @observed("cubyn", "create_parcel")
    async def create_parcel(
        self, request: ParcelRequest | Mapping[str, Any], idempotency_key: str | None = None
    ) -> ParcelCreated:
        """`POST /parcels`. The idempotency key defaults to the request's orderRef.

        A 409 (this application already has a parcel with that orderRef) is not an error: the result
        carries the existing parcel id with `created=False`, for the caller to adopt.
        """
        body = request.to_json() if isinstance(request, ParcelRequest) else dict(request)
        key = idempotency_key or str(body.get("orderRef") or "")
        headers = {"Idempotency-Key": key} if key else {}
        response = await self._request("POST", "/parcels", json=body, headers=headers)
        if response.status_code in (200, 201):
            parcel = _parcel(response, "POST /parcels")
            return ParcelCreated(parcel_id=parcel.id, created=True, parcel=parcel)
        if response.status_code == 409:
            answer = _json_or_empty(response)
            try:
                existing = _PARCEL_ID.validate_python(answer.get("parcelId"))
            except ValidationError:
                raise CubynPermanentError(409, _message(answer, "conflict without parcelId")) from None
            return ParcelCreated(parcel_id=existing, created=False, parcel=None)
        if response.status_code == 400:
            answer = _json_or_empty(response)
            raise CubynInvalidFields(_message(answer, "invalid parcel"), _field_errors(answer))
        raise _unexpected(response, "POST /parcels")

    @observed("cubyn", "get_parcel")
    async def get_parcel(self, parcel_id: str) -> Parcel:
        """`GET /parcels/{id}`; CubynNotFound when this application has no such parcel."""
        path = _parcel_path(parcel_id)
        response = await self._request("GET", path)
        if response.status_code == 200:
            return _parcel(response, "GET /parcels/{id}")
        if response.status_code == 404:
            raise CubynNotFound(f"parcel {parcel_id} not found")
        raise _unexpected(response, "GET /parcels/{id}")

    @observed("cubyn", "find_parcel")
    async def find_parcel(self, order_ref: str) -> Parcel | None:
        """`GET /parcels?orderRef=`: this application's parcel for that orderRef, if any."""
        response = await self._request("GET", "/parcels", params={"orderRef": order_ref})
        if response.status_code != 200:
            raise _unexpected(response, "GET /parcels")
        body = _json(response, "GET /parcels")
        if not isinstance(body, list):
            raise CubynTransientError("Cubyn answered GET /parcels with something other than a list")
        for entry in body:
            parcel = _validate_parcel(entry, "GET /parcels")
            if parcel.order_ref is None or parcel.order_ref == order_ref:
                return parcel
        return None

    @observed("cubyn", "cancel_parcel")
    async def cancel_parcel(self, parcel_id: str) -> Parcel:
        """`PUT /parcels/{id}/cancel`; CubynNotCancellable once the warehouse processes the parcel."""
        path = f"{_parcel_path(parcel_id)}/cancel"
        response = await self._request("PUT", path)
        if response.status_code == 200:
            return _parcel(response, "PUT /parcels/{id}/cancel")
        if response.status_code == 404:
            raise CubynNotFound(f"parcel {parcel_id} not found")
        if response.status_code == 409:
            raise CubynNotCancellable(_message(_json_or_empty(response), "parcel can no longer be cancelled"))
        raise _unexpected(response, "PUT /parcels/{id}/cancel")

    @observed("cubyn", "catalog_page")
    async def catalog_page(self, offset: int = 0, limit: int = CATALOG_PAGE_LIMIT) -> CatalogPage:
        """One page of `GET /product-catalog/products` with the `x-total-count` total (None if absent)."""
        params = {"offset": offset, "limit": min(max(limit, 1), CATALOG_PAGE_LIMIT)}
        response = await self._request("GET", "/product-catalog/products", params=params)
        if response.status_code != 200:
            raise _unexpected(response, "GET /product-catalog/products")
        body = _json(response, "GET /product-catalog/products")
        if not isinstance(body, list):
            raise CubynTransientError("Cubyn answered the catalogue with something other than a list")
        try:
            products = [CatalogProduct.model_validate(entry) for entry in body]
        except ValidationError:
            raise CubynTransientError("Cubyn answered the catalogue with unreadable products") from None
        return CatalogPage(products=products, total=_total_count(response))

    async def iter_catalog(
        self, page_size: int = CATALOG_PAGE_LIMIT, concurrency: int = CATALOG_CONCURRENCY
    ) -> AsyncIterator[CatalogProduct]:
        """Every product of the catalogue, page after page (offset/limit, `x-total-count`), in order."""
        async with aclosing(self._catalog_pages(min(max(page_size, 1), CATALOG_PAGE_LIMIT), concurrency)) as pages:
            async for page in pages:
                for product in page.products:
                    yield product

    async def _catalog_pages(self, size: int, concurrency: int) -> AsyncGenerator[CatalogPage, None]:
        """The catalogue's pages in order. Once a page gave the total (and the first one how many products
        Cubyn serves per page), the pages up to that total are read `concurrency` at a time; a page shorter
        than the others (the catalogue changed meanwhile) makes the reading go on from where it ended, and
        a total that grew meanwhile from where the window stopped."""
        offset = 0
        page = await self.catalog_page(offset, size)
        step = len(page.products) or size
        while True:
            yield page
            offset += len(page.products)
            if _last_page(page, offset, size):
                return
            if page.total is not None:
                starts = range(offset, page.total, step)
                ahead = in_order([partial(self.catalog_page, start, size) for start in starts], concurrency)
                async with aclosing(ahead) as pages:
                    async for page in pages:
                        yield page
                        offset += len(page.products)
                        if len(page.products) < step or _last_page(page, offset, size):
                            break
                if _last_page(page, offset, size):
                    return
            page = await self.catalog_page(offset, size)


def _parcel_path(parcel_id: str) -> str:
    """The parcel's path. Only a parcel id's decimal text goes into it: anything else is refused before a
    request is sent."""
    if not (parcel_id.isascii() and parcel_id.isdigit()):
        raise ValueError(f"not a Cubyn parcel id: {parcel_id[:64]!r}")
    return f"/parcels/{parcel_id}"


def _last_page(page: CatalogPage, offset: int, size: int) -> bool:
    """Whether nothing follows `page`, which ended at `offset`: it is empty, reaches the total, or (without
    a total) is shorter than a full page."""
    if not page.products:
        return True
    if page.total is not None:
        return offset >= page.total
    return len(page.products) < size


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _total_count(response: httpx.Response) -> int | None:
    value = response.headers.get("x-total-count")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except JSON_PARSE_ERRORS:
        raise CubynInvalidResponse(f"Cubyn answered {what} with a body that is not readable JSON") from None


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except JSON_PARSE_ERRORS:
        return {}
    return body if isinstance(body, dict) else {}


def _message(answer: Mapping[str, Any], default: str) -> str:
    message = answer.get("message")
    return message[:500] if isinstance(message, str) and message else default


def _field_errors(answer: Mapping[str, Any]) -> list[FieldError]:
    raw = answer.get("errors")
    errors: list[FieldError] = []
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("field"), str):
            errors.append(FieldError(field=entry["field"], message=str(entry.get("message") or "")))
    return errors


def _validate_parcel(entry: Any, what: str) -> Parcel:
    try:
        return Parcel.model_validate(entry)
    except ValidationError:
        raise CubynTransientError(f"Cubyn answered {what} with an unreadable parcel") from None


def _parcel(response: httpx.Response, what: str) -> Parcel:
    return _validate_parcel(_json(response, what), what)


def _unexpected(response: httpx.Response, what: str) -> CubynPermanentError:
    if response.status_code == 404:
        return CubynNotFound(f"{what}: not found")
    return CubynPermanentError(
        response.status_code, _message(_json_or_empty(response), f"unexpected answer to {what}")
    )
