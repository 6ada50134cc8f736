"""What the mapping modules read from a Rakuten sale.

`Protocol`s, so the Rakuten client's models fit structurally; the small frozen dataclasses below satisfy
them too, for tests, the demo and callers that build a sale by hand. Read-only attributes, so a model
whose field is `str` fits a `str | None` here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


class RakutenAddress(Protocol):
    @property
    def civility(self) -> str | None: ...
    @property
    def first_name(self) -> str | None: ...
    @property
    def last_name(self) -> str | None: ...
    @property
    def address1(self) -> str | None: ...
    @property
    def address2(self) -> str | None: ...
    @property
    def zipcode(self) -> str | None: ...
    @property
    def city(self) -> str | None: ...
    @property
    def country(self) -> str | None: ...
    @property
    def country_alpha2(self) -> str | None: ...
    @property
    def phone1(self) -> str | None: ...
    @property
    def phone2(self) -> str | None: ...


class RakutenRelayPoint(Protocol):
    @property
    def id(self) -> str | None: ...
    @property
    def name(self) -> str | None: ...
    @property
    def address(self) -> str | None: ...
    @property
    def zipcode(self) -> str | None: ...
    @property
    def city(self) -> str | None: ...
    @property
    def country(self) -> str | None: ...


class RakutenItem(Protocol):
    @property
    def item_id(self) -> str: ...
    @property
    def sku(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def is_nego(self) -> bool: ...


class RakutenSale(Protocol):
    @property
    def purchase_id(self) -> str: ...
    @property
    def shipping_type(self) -> str | None: ...
    @property
    def delivery_address(self) -> RakutenAddress | None: ...
    @property
    def billing_address(self) -> RakutenAddress | None: ...
    @property
    def relay_point(self) -> RakutenRelayPoint | None: ...
    @property
    def buyer_email(self) -> str | None: ...
    @property
    def items(self) -> Sequence[RakutenItem]: ...


@dataclass(frozen=True)
class AddressRecord:
    civility: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    address1: str | None = None
    address2: str | None = None
    zipcode: str | None = None
    city: str | None = None
    country: str | None = None
    country_alpha2: str | None = None
    phone1: str | None = None
    phone2: str | None = None


@dataclass(frozen=True)
class RelayPointRecord:
    id: str | None = None
    name: str | None = None
    address: str | None = None
    zipcode: str | None = None
    city: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class ItemRecord:
    item_id: str
    sku: str | None
    status: str = "TO_CONFIRM"
    is_nego: bool = False


@dataclass(frozen=True)
class SaleRecord:
    purchase_id: str
    shipping_type: str | None
    delivery_address: AddressRecord | None = None
    billing_address: AddressRecord | None = None
    relay_point: RelayPointRecord | None = None
    buyer_email: str | None = None
    items: tuple[ItemRecord, ...] = field(default_factory=tuple)
