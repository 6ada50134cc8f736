"""Apply a Cubyn parcel's state to its order: the Rakuten actions `mapping.statuses` asks for, each once.

The parcel comes from a Cubyn `parcel.updated` event (`webhooks.tasks`), from a new read of it (`check`),
or from its creation when Cubyn had already moved it on (`parcel_creation`); the caller holds the order's
lease. Every action done is written down before the next one starts (accepted_at, tracking_pushed_at...),
so a crash, a retry or a replayed event resumes where it stopped and never repeats an action. An action
Rakuten refuses tells the item's status there, recorded by `item_status.record_rakuten_status`; an action
done is recorded by `item_status.record_own_action`.
A failing stock check is written down and brings the order's next check forward to the time the merchant
chose to refuse it (`stock_failure`); the check then does it (`out_of_stock`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.clients.cubyn_models import Parcel
from rakuten_connector.clients.rakuten import RakutenClient
from rakuten_connector.clients.rakuten_errors import (
    RakutenItemStateError,
    RakutenPermanentError,
    RakutenTransientError,
)
from rakuten_connector.clients.rakuten_models import TrackingUpdate
from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.retry import retry_transient
from rakuten_connector.mapping.statuses import (
    AcceptItem,
    CancelItem,
    ItemProgress,
    OrderProgress,
    ParcelDecision,
    PushTracking,
    RefuseItem,
    decide,
)
from rakuten_connector.orders import stock_failure
from rakuten_connector.orders.item_status import record_own_action, record_rakuten_status
from rakuten_connector.orders.models import Order, OrderItem, OrderState
from rakuten_connector.orders.rakuten_cancellations import left_the_flow, open_claim
from rakuten_connector.orders.service import add_event, transition
from rakuten_connector.runtime import Runtime

T = TypeVar("T")

# How long an order may wait for news from Cubyn before the sweep reads its parcel.
RECHECK_AFTER = {
    OrderState.IMPORTED: timedelta(minutes=30),
    OrderState.ACCEPTED: timedelta(hours=2),
}
PAUSED_RECHECK = timedelta(minutes=5)


async def _again(call: Callable[[], Awaitable[T]]) -> T:
    """Per-item actions are idempotent (an "already done" answer is success): retry blips on the spot."""
    return await retry_transient(call, (RakutenTransientError,))


def order_progress(order: Order) -> OrderProgress:
    items = tuple(
        ItemProgress(
            item_id=item.item_id,
            accepted=item.accepted_at is not None,
            tracking_pushed=item.tracking_pushed_at is not None,
            refused=item.refused_at is not None,
            cancelled=item.cancelled_at is not None,
        )
        for item in order.items
    )
    return OrderProgress(items=items, state=OrderState(order.state), parcel_updated_at=order.parcel_updated_at)


async def apply_parcel(
    rt: Runtime, session: AsyncSession, connection: Connection, order: Order, parcel: Parcel
) -> bool:
    """Apply `parcel` to `order` (committing after each Rakuten action). False when the event was stale."""
    decision = decide(
        parcel,
        order_progress(order),
        refuse_after_hours=stock_failure.refusal_delay(connection, order),
        cancelled_reason=stock_failure.cancelled_reason(connection, order),
    )
    if decision.stale:
        return False
    order.parcel_id = parcel.id
    order.tracking_id = parcel.tracking_id
    if order.parcel_status != parcel.status:
        add_event(session, order, "parcel_status", f"Cubyn parcel {parcel.tracking_id} is {parcel.status}.")
        order.parcel_status = parcel.status
    stock_failure.observe(order, parcel)
    if decision.actions and not connection.may_call_rakuten:
        # The actions wait, but this parcel state is the newest seen: an older event handled later (a
        # retried webhook) is stale, instead of settling the order and pushing its next check back.
        order.parcel_updated_at = decision.watermark
        order.next_check_at = utcnow() + PAUSED_RECHECK
        if order.last_error != _PAUSED:
            order.last_error = _PAUSED
            add_event(session, order, "waiting", _PAUSED)
        await session.commit()
        return True
    if decision.actions and not await _perform(rt, session, connection, order, decision):
        return True
    _settle(session, connection, order, decision)
    await session.commit()
    return True


_PAUSED = "The connection is paused or its credentials are refused: Rakuten actions wait until it is active."


def _settle(session: AsyncSession, connection: Connection, order: Order, decision: ParcelDecision) -> None:
    new_state, reason = decision.state, decision.reason
    claim = open_claim(order)
    if claim is not None and new_state is not OrderState.CANCELLED:
        # The parcel's progress is recorded (and its actions done), but it must not hide a claim that
        # waits for the merchant on Rakuten.
        new_state, reason = OrderState.NEEDS_ATTENTION, claim
    if new_state is OrderState.CANCELLED and order.state == OrderState.CANCELLED:
        reason = order.reason  # the cancelled parcel's event after the order was cancelled: the first why stays
    if new_state.value != order.state or reason != order.reason:
        message = reason or f"Order {new_state.value.replace('_', ' ')}."
        transition(session, order, new_state, new_state.value, message, reason=reason)
    order.parcel_updated_at = decision.watermark
    order.last_error = None
    order.attempts = 0
    wait = RECHECK_AFTER.get(new_state)
    if new_state is OrderState.SHIPPED and any(item.tracking_pushed_at is None for item in _live(order)):
        wait = timedelta(minutes=5)
    order.next_check_at = utcnow() + wait if wait else None
    stock_failure.settled(order)
    stock_failure.schedule(connection, order)


def _live(order: Order) -> list[OrderItem]:
    return [item for item in order.items if not left_the_flow(item)]


async def _perform(
    rt: Runtime, session: AsyncSession, connection: Connection, order: Order, decision: ParcelDecision
) -> bool:
    """Do the actions; True when all are done, False when the order needs a person (already recorded)."""
    rakuten = rt.rakuten(connection)
    items = {item.item_id: item for item in order.items}
    try:
        for action in decision.actions:
            item = items[action.item_id]
            if isinstance(action, AcceptItem):
                country = rt.settings.rakuten_shipping_from_country
                await _again(partial(rakuten.accept_item, item.item_id, country))
                record_own_action(session, order, item, "ACCEPTED")
            elif isinstance(action, RefuseItem):
                await _again(partial(rakuten.refuse_item, item.item_id))
                record_own_action(session, order, item, "REFUSED")
            elif isinstance(action, CancelItem):
                await _again(partial(rakuten.cancel_item, item.item_id, action.comment))
                record_own_action(session, order, item, "CANCELLED")
            else:
                continue  # tracking goes in one batch below, once every item is accepted
            await session.commit()
        pushes = [a for a in decision.actions if isinstance(a, PushTracking)]
        if pushes and not await _push_tracking(rt, rakuten, session, order, items, pushes):
            return False
    except RakutenItemStateError as exc:
        _refused_on_rakuten(session, order, items.get(exc.item_id), exc)
        await session.commit()
        return False
    return True


def _refused_on_rakuten(
    session: AsyncSession, order: Order, item: OrderItem | None, exc: RakutenItemStateError
) -> None:
    """Rakuten refused an action on an item and said its status there: recorded like any status it
    gives. An item gone on Rakuten (the buyer cancelled) has the order checked at once, which cancels
    the parcel while it still can; any other refusal needs a person."""
    if item is not None and exc.item_status:
        record_rakuten_status(session, order, item, exc.item_status)
    if item is not None and left_the_flow(item):
        order.next_check_at = utcnow()
        return
    reason = f"Rakuten refused an action on item {exc.item_id} (its status there: {exc.item_status or 'unknown'})."
    transition(session, order, OrderState.NEEDS_ATTENTION, "needs_attention", reason, reason=reason)
    order.next_check_at = None


def _tracked(
    session: AsyncSession, order: Order, items: dict[str, OrderItem], item_ids: list[str], tracking: str
) -> None:
    for item_id in item_ids:
        items[item_id].tracking_pushed_at = utcnow()
    add_event(
        session,
        order,
        "tracking_pushed",
        f"Tracking {tracking} sent to Rakuten for item(s) {', '.join(item_ids)}.",
    )


async def _push_tracking(
    rt: Runtime,
    rakuten: RakutenClient,
    session: AsyncSession,
    order: Order,
    items: dict[str, OrderItem],
    pushes: list[PushTracking],
) -> bool:
    """Send the tracking of the shipped items to Rakuten; False when it refused some item's (the order
    then needs a person). The only tracking push of the connector: the client gives the two calls."""
    settings = rt.settings
    updates = [
        TrackingUpdate(
            item_id=push.item_id,
            purchase_id=order.purchase_id,
            transporter=settings.rakuten_transporter_name,
            tracking_number=push.tracking_id,
            tracking_url=settings.cubyn_tracking_url_template.format(tracking_id=push.tracking_id),
        )
        for push in pushes
    ]
    refused: list[str] = []
    # One file first; if it is refused or its outcome is unknown (a retry), item by item, each success
    # written down at once, so a transient error later loses nothing and nothing is sent twice.
    first_try = order.attempts == 0
    order.attempts += 1
    await session.commit()
    if first_try and await rakuten.send_tracking_file(updates):
        _tracked(session, order, items, [u.item_id for u in updates], pushes[0].tracking_id)
    else:
        for update in updates:
            try:
                await _again(partial(rakuten.set_tracking, update))
            except RakutenPermanentError:
                refused.append(update.item_id)
                continue
            _tracked(session, order, items, [update.item_id], update.tracking_number)
            await session.commit()
    if refused:
        reason = f"Rakuten refused the tracking of item(s) {', '.join(refused)}."
        transition(session, order, OrderState.NEEDS_ATTENTION, "needs_attention", reason, reason=reason)
        order.next_check_at = None
    await session.commit()
    return not refused
