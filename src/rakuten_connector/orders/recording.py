"""Turn what getnewsales shows into order rows: one per purchase, written once however often it shows.

The poll (`poll`) calls it with every answer and commits; the orders to import then get their parcel
(`parcel_creation`), the skipped ones keep the reason a merchant can read.

The connection's import lease keeps two workers from recording the same sales at once; the unique
constraint on (connection, purchase) is the guarantee if a lease ever expired under a slow worker, and a
skipped order goes to Cubyn only through one conditional UPDATE (`skipped` -> `importing`), so two
workers can never both send it.

The sales are mapped under the connection's rules (`ImportRules`: its carrier choices and the SKU
mappings of the SKUs in hand), read once per answer and only when a sale needs deciding: most polls list
nothing new and read no rule. A skipped order is decided again each time getnewsales lists it, under
the rules of the day: once the merchant chose a Cubyn mode for its delivery mode, it is imported.

Orders are keyed per connection, but a purchase gets one parcel per seller: a later connection of the
same seller (disconnected, then connected again, maybe with another Cubyn application) records a purchase
an earlier connection's order sent to Cubyn as skipped, `already_imported`, instead of sending it a second
time. Disconnecting keeps a connection's orders, so they are what says so.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rakuten_connector.carriers.service import carrier_choices
from rakuten_connector.clients.rakuten_models import Item, Sale
from rakuten_connector.connections.models import Connection
from rakuten_connector.mapping.carriers import is_shipping_type_reason
from rakuten_connector.mapping.parcels import (
    ImportRules,
    ParcelPlan,
    SaleSkipped,
    SkipCode,
    sale_to_parcel,
    waiting_items,
)
from rakuten_connector.metrics.families import ORDERS_IMPORTED, ORDERS_SKIPPED
from rakuten_connector.orders.models import (
    ITEM_ID_MAX,
    PURCHASE_ID_MAX,
    SKU_MAX,
    Order,
    OrderItem,
    OrderState,
)
from rakuten_connector.orders.service import transition
from rakuten_connector.skus import service as skus

log = structlog.get_logger(__name__)

CHUNK = 500
SWEEP_GRACE = timedelta(minutes=2)


@dataclass
class Recorded:
    """What one answer of getnewsales gave: the orders now waiting for their parcel, and the skips."""

    to_import: list[str] = field(default_factory=list)  # order ids waiting for their parcel
    skipped: int = 0
    already_imported: int = 0  # skipped: an earlier connection of the seller sent them to Cubyn
    skip_codes: Counter[str] = field(default_factory=Counter)  # new skips, by the reason's code

    def add(self, other: Recorded) -> None:
        """Fold in what another part of the same answer gave."""
        self.to_import += other.to_import
        self.skipped += other.skipped
        self.already_imported += other.already_imported
        self.skip_codes += other.skip_codes

    def count(self) -> None:
        """Count what was recorded, once it is committed."""
        ORDERS_IMPORTED.inc(len(self.to_import))
        for code, skips in self.skip_codes.items():
            ORDERS_SKIPPED.labels(code).inc(skips)


def _items(order_id: str, sale: Sale, item_ids: Sequence[str], plan: ParcelPlan | None = None) -> list[OrderItem]:
    by_id = {item.item_id: item for item in sale.items}
    cubyn_skus = plan.cubyn_skus if plan else {}
    return [
        OrderItem(
            order_id=order_id,
            item_id=item_id,
            sku=by_id[item_id].sku,
            cubyn_sku=cubyn_skus.get(item_id),
            rakuten_status=by_id[item_id].status,
        )
        for item_id in item_ids
        if item_id in by_id and _fits(item_id, by_id[item_id].sku)
    ]


def _plan_message(plan: ParcelPlan) -> str:
    units = sum(item.quantity for item in plan.request.items)
    message = (
        f"Sale read from Rakuten ({units} unit(s), {len(plan.request.items)} SKU(s)); creating the Cubyn parcel."
    )
    return " ".join([message, *plan.notes])


async def _existing(session: AsyncSession, connection_id: str, purchase_ids: list[str]) -> dict[str, Order]:
    found: dict[str, Order] = {}
    if not purchase_ids:
        return found
    for start in range(0, len(purchase_ids), CHUNK):
        chunk = purchase_ids[start : start + CHUNK]
        rows = await session.scalars(
            select(Order)
            .where(Order.connection_id == connection_id, Order.purchase_id.in_(chunk))
            .options(selectinload(Order.items))
        )
        found.update({order.purchase_id: order for order in rows})
    return found


async def _imported_elsewhere(session: AsyncSession, connection_id: str, purchase_ids: list[str]) -> set[str]:
    """The purchases an earlier connection of this seller sent to Cubyn (or may have: everything but a
    skip, and a failure that never got a parcel)."""
    found: set[str] = set()
    seller = select(Connection.seller_key).where(Connection.id == connection_id).scalar_subquery()
    others = select(Connection.id).where(Connection.seller_key == seller, Connection.id != connection_id)
    never_sent = or_(
        Order.state == OrderState.SKIPPED.value,
        and_(Order.state == OrderState.FAILED.value, Order.parcel_id.is_(None)),
    )
    for start in range(0, len(purchase_ids), CHUNK):
        rows = await session.scalars(
            select(Order.purchase_id).where(
                Order.connection_id.in_(others),
                Order.purchase_id.in_(purchase_ids[start : start + CHUNK]),
                ~never_sent,
            )
        )
        found.update(rows)
    return found


ALREADY_IMPORTED = (
    "An earlier connection of this Rakuten seller already sent this purchase to Cubyn: it is not imported "
    "again. Its parcel is the one that earlier connection created."
)


def _merged(sales: Sequence[Sale]) -> list[Sale]:
    """One sale per purchase: a purchase Rakuten lists twice keeps every item either listing shows."""
    by_purchase: dict[str, Sale] = {}
    for sale in sales:
        known = by_purchase.get(sale.purchase_id)
        if known is None:
            by_purchase[sale.purchase_id] = sale
            continue
        items: dict[str, Item] = {item.item_id: item for item in sale.items} | {i.item_id: i for i in known.items}
        by_purchase[sale.purchase_id] = replace(known, items=tuple(items.values()))
    if len(by_purchase) < len(sales):
        log.warning("rakuten_sale_listed_twice", count=len(sales) - len(by_purchase))
    return list(by_purchase.values())


def _to_cubyn(session: AsyncSession, order: Order, plan: ParcelPlan, message: str) -> None:
    """The order goes to Cubyn, said in its timeline."""
    order.parcel_request = plan.request.model_dump_json(by_alias=True)
    order.delivery_mode = plan.request.delivery_mode
    transition(session, order, OrderState.IMPORTING, "received", message)


def _now_importable(order: Order, sale: Sale, plan: ParcelPlan) -> str:
    """Why a skipped sale goes to Cubyn now, for its timeline."""
    if plan.shipping is not None and is_shipping_type_reason(order.reason, sale.shipping_type):
        shown = " ".join(sale.shipping_type.split())
        why = f'The delivery mode "{shown}" is now chosen: Cubyn {plan.shipping.choice}.'
    else:
        why = f"The sale can be imported now (it was skipped: {order.reason})"
    return f"{why} {_plan_message(plan)}"


def _import_skipped(session: AsyncSession, order: Order, sale: Sale, plan: ParcelPlan) -> None:
    """A skipped order this poll claimed (see `_claim_skipped`) goes to Cubyn."""
    message = _now_importable(order, sale, plan)
    for item in order.items:
        item.cubyn_sku = plan.cubyn_skus.get(item.item_id)
    known = {item.item_id for item in order.items}
    order.items.extend(item for item in _items(order.id, sale, plan.item_ids, plan) if item.item_id not in known)
    order.next_check_at = order.rakuten_seen_at and order.rakuten_seen_at + SWEEP_GRACE
    _to_cubyn(session, order, plan, message)


def _still_skipped(session: AsyncSession, order: Order, outcome: SaleSkipped) -> None:
    if outcome.code is not SkipCode.NO_WAITING_ITEM and outcome.reason != order.reason:
        transition(session, order, OrderState.SKIPPED, "skipped", outcome.reason, reason=outcome.reason)


async def _claim_skipped(session: AsyncSession, order_ids: list[str]) -> set[str]:
    """Move these orders from `skipped` to `importing`, each only if it is still skipped: the orders this
    statement changed are this poll's to send (a racing poll finds them importing and leaves them)."""
    claimed: set[str] = set()
    for start in range(0, len(order_ids), CHUNK):
        rows = await session.scalars(
            update(Order)
            .where(Order.id.in_(order_ids[start : start + CHUNK]), Order.state == OrderState.SKIPPED.value)
            .values(state=OrderState.IMPORTING.value)
            .returning(Order.id)
            .execution_options(synchronize_session=False)
        )
        claimed.update(rows)
    return claimed


async def _rules(session: AsyncSession, connection_id: str, sales: Collection[Sale]) -> ImportRules:
    """The connection's carrier choices, and the SKU mappings of the waiting items of `sales` (as Rakuten
    sent the SKU and trimmed), in a few chunked queries."""
    raw = {item.sku or "" for sale in sales for item in waiting_items(sale)}
    wanted = {sku for value in raw for sku in (value, value.strip()) if sku}
    return ImportRules(
        carrier_choices=await carrier_choices(session, connection_id),
        sku_mappings=await skus.current(session, connection_id, wanted) if wanted else {},
    )


TOO_LONG = (
    "Rakuten sent an item identifier or SKU longer than the connector can keep: "
    "handle this order in the Rakuten back office."
)


def _fits(item_id: str, sku: str) -> bool:
    return len(item_id) <= ITEM_ID_MAX and len(sku) <= SKU_MAX


def _outcome(sale: Sale, rules: ImportRules) -> ParcelPlan | SaleSkipped:
    """Identifiers are stored whole: an oversized one makes the sale a skip, never a failed import."""
    if not all(_fits(item.item_id, item.sku) for item in sale.items):
        return SaleSkipped(SkipCode.IDENTIFIER_TOO_LONG, TOO_LONG)
    return sale_to_parcel(sale, rules)


def _record_new(
    session: AsyncSession,
    connection_id: str,
    sale: Sale,
    outcome: ParcelPlan | SaleSkipped,
    taken: bool,
    now: datetime,
    recorded: Recorded,
) -> None:
    """A purchase this connection sees for the first time: an order to import, or a skip with its reason."""
    if isinstance(outcome, SaleSkipped) and outcome.code is SkipCode.NO_WAITING_ITEM:
        return  # nothing left to decide on Rakuten (cancelled items): never imported
    order = Order(
        id=str(uuid.uuid4()),
        connection_id=connection_id,
        purchase_id=sale.purchase_id,
        shipping_type=sale.shipping_type,
        purchased_at=sale.purchased_at,
        imported_at=now,
        rakuten_seen_at=now,
        attempts=0,
        items=[],
    )
    session.add(order)
    if taken:
        reason = ALREADY_IMPORTED
        recorded.already_imported += 1
        recorded.skip_codes["already_imported"] += 1
    elif isinstance(outcome, ParcelPlan):
        order.next_check_at = now + SWEEP_GRACE  # the import creates it now; the sweep only if it died
        order.items.extend(_items(order.id, sale, outcome.item_ids, outcome))
        _to_cubyn(session, order, outcome, _plan_message(outcome))
        recorded.to_import.append(order.id)
        return
    else:
        reason = outcome.reason
        recorded.skipped += 1
        recorded.skip_codes[outcome.code.value] += 1
    order.items.extend(_items(order.id, sale, [item.item_id for item in waiting_items(sale)]))
    transition(session, order, OrderState.SKIPPED, "skipped", reason, reason=reason)


def purchase_chunks(sales: Sequence[Sale], purchases: int) -> Iterator[list[Sale]]:
    """The sales of an answer in parts of at most `purchases` purchases each, a purchase's sales together
    (getnewsales may list one purchase more than once), in the answer's order."""
    by_purchase: dict[str, list[Sale]] = {}
    for sale in sales:
        by_purchase.setdefault(sale.purchase_id, []).append(sale)
    groups = list(by_purchase.values())
    for start in range(0, len(groups), purchases):
        yield [sale for group in groups[start : start + purchases] for sale in group]


async def record_sales(
    session: AsyncSession, connection_id: str, sales: Sequence[Sale], now: datetime
) -> Recorded:
    """Record what getnewsales listed for the connection; flushes, the caller commits."""
    recorded = Recorded()
    unkeyable = {
        sale.purchase_id for sale in sales if not sale.purchase_id or len(sale.purchase_id) > PURCHASE_ID_MAX
    }
    if unkeyable:
        # Without a purchase id we can key on, nothing can be recorded: say so in the logs.
        log.warning("rakuten_sale_unrecordable", connection_id=connection_id, count=len(unkeyable))
    sales = _merged([sale for sale in sales if sale.purchase_id not in unkeyable])
    purchase_ids = [sale.purchase_id for sale in sales]
    existing = await _existing(session, connection_id, purchase_ids)
    # Most polls list only purchases already recorded here: those need no look at other connections.
    undecided = [p for p in purchase_ids if p not in existing or existing[p].state == OrderState.SKIPPED]
    elsewhere = await _imported_elsewhere(session, connection_id, undecided) if undecided else set()
    deciding = set(undecided) - elsewhere
    to_decide = [sale for sale in sales if sale.purchase_id in deciding]
    rules = await _rules(session, connection_id, to_decide) if to_decide else ImportRules()
    revisits: list[tuple[Order, Sale, ParcelPlan]] = []
    for sale in sales:
        taken = sale.purchase_id in elsewhere
        order = existing.get(sale.purchase_id)
        if order is None:
            _record_new(session, connection_id, sale, _outcome(sale, rules), taken, now, recorded)
            continue
        order.rakuten_seen_at = now
        if taken:
            recorded.already_imported += 1
        elif order.state == OrderState.SKIPPED:
            outcome = _outcome(sale, rules)
            if isinstance(outcome, ParcelPlan):
                revisits.append((order, sale, outcome))
            else:
                _still_skipped(session, order, outcome)
    if revisits:
        claimed = await _claim_skipped(session, [order.id for order, _, _ in revisits])
        for order, sale, plan in revisits:
            if order.id in claimed:
                _import_skipped(session, order, sale, plan)
                recorded.to_import.append(order.id)
    await session.flush()
    return recorded
