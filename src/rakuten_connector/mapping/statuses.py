"""A Cubyn parcel's status -> the Rakuten actions still to do, and the connector's order state.

Rules, for the items of the parcel that are still live on Rakuten (not refused or
cancelled there):
- `CREATED`, checks pending: nothing.
- `CREATED` and validated (`validatedAt`), `PICKED`, `PACKED`: accept every item not accepted yet.
- `SHIPPED` or any later status (or `shippedAt` set, whatever the status): accept first where needed,
  then push the tracking `CUB<id>` once per item.
- `CANCELLED`: refuse the items not accepted; cancel the accepted ones with a comment (<= 400 chars).
- `CREATED` with a `FAILED` check (out of stock, unknown SKU, bad address): **needs attention**, with a
  reason the merchant can read, and no action. The merchant may restock or fix the product within
  Rakuten's acceptance window, and Cubyn revalidates the parcel; accepting now and cancelling later would
  hurt the seller's score (Rakuten: "refuse rather than accept-then-cancel"), so acceptance waits for
  validation. Refusing is the merchant's decision, unless the merchant chose a delay after which an order
  out of stock is refused (`refuse_after_hours`, said in the reason): the connector then cancels the parcel,
  and the `CANCELLED` rule refuses the items (`cancelled_reason` says why).
- `CUBYN_EXCEPTION` before shipping, or a cancelled parcel whose tracking was already pushed: needs
  attention, no action.
- Unknown statuses: nothing, the state stays.

`stock_check` tells whether a parcel is out of stock (its stock check `FAILED` with `STOCK_CHECK_FAILED`
while it waits for validation): an unknown SKU or a bad address is not, and never refused automatically.

Monotonic: an event older than the watermark (the newest `updatedAt` applied) is stale and gives nothing;
actions are derived from what `OrderProgress` says was done, so a repeated event gives nothing new once
the caller recorded the earlier actions (`record_done` shows how); and the state never goes back from
shipped to accepted or imported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from rakuten_connector.clients.cubyn_models import Parcel, ParcelStatus

CANCEL_COMMENT_MAX = 400
DEFAULT_CANCEL_COMMENT = (
    "Nous sommes désolés : votre commande n'a pas pu être préparée et a été annulée. "
    "Vous serez intégralement remboursé."
)

_ACCEPTING = frozenset({ParcelStatus.PICKED, ParcelStatus.PACKED})
_SHIPPED_OR_LATER = frozenset(
    {
        ParcelStatus.SHIPPED,
        ParcelStatus.CARRIER_IN_TRANSIT,
        ParcelStatus.CARRIER_OUT_FOR_DELIVERY,
        ParcelStatus.CARRIER_FAILED_ATTEMPT,
        ParcelStatus.CARRIER_EXCEPTION,
        ParcelStatus.CARRIER_DELIVERED,
        ParcelStatus.RETURNING,
        ParcelStatus.RETURNED,
    }
)
_SHIPPED_NOTES = {
    ParcelStatus.CARRIER_FAILED_ATTEMPT: "The carrier could not deliver the parcel at the first attempt.",
    ParcelStatus.CARRIER_EXCEPTION: "The carrier reported a problem with the parcel.",
    ParcelStatus.RETURNING: "The parcel is on its way back to Cubyn's warehouse.",
    ParcelStatus.RETURNED: "The parcel came back to Cubyn's warehouse.",
}
OUT_OF_STOCK_ERROR = "STOCK_CHECK_FAILED"
_CHECK_REASONS = {
    OUT_OF_STOCK_ERROR: "Cubyn does not have enough stock for this order. Restock the products at Cubyn "
    "(the order is then accepted automatically) or refuse the order on Rakuten.",
    "VALIDATION_FAILED": "Cubyn does not know a product of this order (unknown SKU). Check that the SKU is "
    "the same on Rakuten and at Cubyn.",
}


class StockCheck(StrEnum):
    """What a parcel says of its stock check."""

    OUT_OF_STOCK = "out_of_stock"  # CREATED, not validated, stock check FAILED with STOCK_CHECK_FAILED
    RECHECKING = "rechecking"  # CREATED, not validated, stock check PENDING: Cubyn is checking it (again)
    CLEAR = "clear"  # passed, validated, failed for another reason, or the parcel moved on


class OrderState(StrEnum):
    SKIPPED = "skipped"
    IMPORTING = "importing"
    IMPORTED = "imported"
    ACCEPTED = "accepted"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    FAILED = "failed"
    NEEDS_ATTENTION = "needs_attention"


_PROGRESS_RANK = {OrderState.IMPORTED: 0, OrderState.ACCEPTED: 1, OrderState.SHIPPED: 2}


@dataclass(frozen=True)
class ItemProgress:
    """What was done on Rakuten for one item of the parcel (or happened there: buyer cancellation)."""

    item_id: str
    accepted: bool = False
    tracking_pushed: bool = False
    refused: bool = False
    cancelled: bool = False

    @property
    def live(self) -> bool:
        return not (self.refused or self.cancelled)


@dataclass(frozen=True)
class OrderProgress:
    items: tuple[ItemProgress, ...]
    state: OrderState = OrderState.IMPORTED
    parcel_updated_at: datetime | None = None  # watermark: newest parcel `updatedAt` applied


@dataclass(frozen=True)
class AcceptItem:
    item_id: str


@dataclass(frozen=True)
class PushTracking:
    item_id: str
    tracking_id: str  # CUB<id>


@dataclass(frozen=True)
class RefuseItem:
    item_id: str


@dataclass(frozen=True)
class CancelItem:
    item_id: str
    comment: str


RakutenAction = AcceptItem | PushTracking | RefuseItem | CancelItem


@dataclass(frozen=True)
class ParcelDecision:
    actions: tuple[RakutenAction, ...]
    state: OrderState
    reason: str | None
    watermark: datetime | None
    stale: bool = False


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def hours_words(hours: int) -> str:
    """`hours` as a merchant reads it: "1 hour", "12 hours"."""
    return "1 hour" if hours == 1 else f"{hours} hours"


def stock_check(parcel: Parcel) -> StockCheck:
    """Whether `parcel` waits for validation because Cubyn lacks stock for it (see StockCheck)."""
    waiting = parcel.status.strip().upper() == ParcelStatus.CREATED and not parcel.is_validated
    check = next((c for name, c in parcel.validations.items() if name.strip().lower() == "stock"), None)
    if not waiting or parcel.shipped_at is not None or check is None:
        return StockCheck.CLEAR
    status, error = check.status.strip().upper(), (check.error or "").strip().upper()
    if status == "FAILED" and error == OUT_OF_STOCK_ERROR:
        return StockCheck.OUT_OF_STOCK
    return StockCheck.RECHECKING if status == "PENDING" else StockCheck.CLEAR


def no_stock_for(hours: int) -> str:
    return f"Cubyn had no stock for this order for {hours_words(hours)}"


def out_of_stock_reason(hours: int) -> str:
    """Why the connector cancelled the parcel and refused the sale, `hours` after the stock check failed."""
    return f"{no_stock_for(hours)}: the Cubyn parcel was cancelled and the sale refused on Rakuten."


def _out_of_stock_waits(hours: int) -> str:
    return (
        "Cubyn does not have enough stock for this order. Restock the products at Cubyn (the order is then "
        f"accepted automatically); otherwise the sale is refused on Rakuten {hours_words(hours)} after Cubyn's stock "
        "check failed."
    )


def _check_reason(parcel: Parcel, refuse_after_hours: int | None) -> str | None:
    failed = parcel.failed_checks()
    if not failed:
        return None
    reasons = []
    # The sale is said to be refused later only when the refusal will act on it: `stock_check` decides.
    refusable = refuse_after_hours is not None and stock_check(parcel) is StockCheck.OUT_OF_STOCK
    for name, check in sorted(failed.items()):
        error = (check.error or "").strip().upper()
        if error == OUT_OF_STOCK_ERROR and refusable and refuse_after_hours is not None:
            reasons.append(_out_of_stock_waits(refuse_after_hours))
        elif error in _CHECK_REASONS:
            reasons.append(_CHECK_REASONS[error])
        elif name.lower() == "address":
            reasons.append("Cubyn could not validate the delivery address. Check it with the buyer.")
        else:
            reasons.append(f'Cubyn\'s "{name}" check failed ({check.error or "no detail"}).')
    return " ".join(dict.fromkeys(reasons))


def _accepts(live: Iterable[ItemProgress]) -> list[RakutenAction]:
    return [AcceptItem(item.item_id) for item in live if not item.accepted]


def decide(
    parcel: Parcel,
    progress: OrderProgress,
    *,
    cancel_comment: str = DEFAULT_CANCEL_COMMENT,
    refuse_after_hours: int | None = None,
    cancelled_reason: str | None = None,
) -> ParcelDecision:
    """The Rakuten actions `parcel` still calls for, given `progress`, and the resulting order state.
    `refuse_after_hours`: the merchant's refusal delay of an order out of stock (None: none), told in its
    reason; `cancelled_reason`: why the connector cancelled the parcel (None: Cubyn did)."""
    updated, watermark = _utc(parcel.updated_at), _utc(progress.parcel_updated_at)
    if updated is not None and watermark is not None and updated < watermark:
        return ParcelDecision((), progress.state, None, watermark, stale=True)
    new_watermark = max((d for d in (updated, watermark) if d is not None), default=None)

    status = parcel.status.strip().upper()
    live = [item for item in progress.items if item.live]
    actions: list[RakutenAction] = []
    state: OrderState | None = None
    reason: str | None = None

    if status == ParcelStatus.CANCELLED:
        if any(item.tracking_pushed for item in live):
            state = OrderState.NEEDS_ATTENTION
            reason = "Cubyn cancelled the parcel after its tracking was sent to Rakuten."
        else:
            comment = (cancel_comment.strip() or DEFAULT_CANCEL_COMMENT)[:CANCEL_COMMENT_MAX]
            for item in live:
                actions.append(CancelItem(item.item_id, comment) if item.accepted else RefuseItem(item.item_id))
            state, reason = OrderState.CANCELLED, cancelled_reason or "Cubyn cancelled the parcel."
    elif not live:
        if status == ParcelStatus.CREATED and parcel.shipped_at is None:
            state = progress.state
        else:
            state = OrderState.NEEDS_ATTENTION
            reason = "The order was cancelled on Rakuten but Cubyn is already preparing or shipping the parcel."
    elif status in _SHIPPED_OR_LATER or parcel.shipped_at is not None:
        actions.extend(_accepts(live))
        actions.extend(PushTracking(item.item_id, parcel.tracking_id) for item in live if not item.tracking_pushed)
        state = OrderState.SHIPPED
        reason = _SHIPPED_NOTES.get(ParcelStatus(status)) if status in _SHIPPED_NOTES else None
    elif status == ParcelStatus.CUBYN_EXCEPTION:
        state = OrderState.NEEDS_ATTENTION
        reason = "Cubyn reported a problem with this parcel in its warehouse."
    elif status in _ACCEPTING or (status == ParcelStatus.CREATED and parcel.is_validated):
        actions.extend(_accepts(live))
        state = OrderState.ACCEPTED
    elif status == ParcelStatus.CREATED:
        reason = _check_reason(parcel, refuse_after_hours)
        state = OrderState.NEEDS_ATTENTION if reason else progress.state
    else:
        state = progress.state

    state = _no_regression(progress.state, state)
    return ParcelDecision(tuple(actions), state, reason, new_watermark)


def _no_regression(current: OrderState, new: OrderState) -> OrderState:
    if current in _PROGRESS_RANK and new in _PROGRESS_RANK and _PROGRESS_RANK[new] < _PROGRESS_RANK[current]:
        return current
    return new


def record_done(progress: OrderProgress, decision: ParcelDecision) -> OrderProgress:
    """`progress` once every action of `decision` succeeded on Rakuten (and its state and watermark kept)."""
    by_id = {item.item_id: item for item in progress.items}
    for action in decision.actions:
        item = by_id.get(action.item_id)
        if item is None:
            continue
        if isinstance(action, AcceptItem):
            item = replace(item, accepted=True)
        elif isinstance(action, PushTracking):
            item = replace(item, tracking_pushed=True)
        elif isinstance(action, RefuseItem):
            item = replace(item, refused=True)
        else:
            item = replace(item, cancelled=True)
        by_id[item.item_id] = item
    return OrderProgress(
        items=tuple(by_id[item.item_id] for item in progress.items),
        state=decision.state,
        parcel_updated_at=decision.watermark,
    )
