"""When an order out of stock is due for refusal, and why a parcel the connector cancelled was cancelled:
rules on the order and its connection alone (no database, no upstream)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rakuten_connector.clients.cubyn_models import Parcel
from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders import stock_failure
from rakuten_connector.orders.models import Order, OrderItem, OrderState

SINCE = utcnow() - timedelta(hours=5)
OUT = {"stock": {"status": "FAILED", "error": "STOCK_CHECK_FAILED"}}


def _order(**fields: Any) -> Order:
    item = {"item_id": "i1", "sku": "SKU-1", "rakuten_status": "TO_CONFIRM"} | fields.pop("item", {})
    values: dict[str, Any] = {
        "purchase_id": "1",
        "state": OrderState.NEEDS_ATTENTION.value,
        "parcel_id": "100",
        "parcel_status": "CREATED",
        "stock_failed_since": SINCE,
        "items": [OrderItem(**item)],
    }
    return Order(**(values | fields))


def _connection(hours: int | None) -> Connection:
    return Connection(refuse_out_of_stock_after_hours=hours)


def test_the_refusal_is_due_the_merchants_delay_after_the_stock_check_first_failed() -> None:
    assert stock_failure.refusal_due_at(_connection(12), _order()) == SINCE + timedelta(hours=12)
    assert stock_failure.refusal_due_at(_connection(None), _order()) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"stock_failed_since": None},
        {"parcel_status": "PICKED"},
        {"parcel_status": "CANCELLED"},
        {"parcel_id": None},
        {"state": OrderState.ACCEPTED.value},
        {"state": OrderState.CANCELLED.value},
        {"items": []},
        {"item": {"accepted_at": SINCE, "rakuten_status": "ACCEPTED"}},
        {"item": {"accepted_at": SINCE}},
        {"item": {"refused_at": SINCE, "rakuten_status": "REFUSED"}},
        {"item": {"cancelled_at": SINCE, "rakuten_status": "CANCELLED"}},
        {"item": {"rakuten_status": "PENDING_CLAIM"}},
    ],
)
def test_no_refusal_unless_every_item_waits_and_the_parcel_is_still_created(fields: dict[str, Any]) -> None:
    assert stock_failure.refusal_due_at(_connection(1), _order(**fields)) is None


def test_the_next_check_comes_no_later_than_the_refusal() -> None:
    later, sooner = utcnow() + timedelta(days=1), SINCE + timedelta(hours=1)
    for next_check, expected in (
        (None, SINCE + timedelta(hours=2)),
        (later, SINCE + timedelta(hours=2)),
        (sooner, sooner),
    ):
        order = _order(next_check_at=next_check)
        stock_failure.schedule(_connection(2), order)
        assert order.next_check_at == expected


def test_the_failure_is_kept_from_its_first_sight_until_the_parcel_moves_on() -> None:
    order = _order(stock_failed_since=None)
    failed = Parcel.model_validate({"id": 100, "status": "CREATED", "validations": OUT})
    stock_failure.observe(order, failed)
    first = order.stock_failed_since
    assert first is not None
    stock_failure.observe(order, failed)
    assert order.stock_failed_since == first
    stock_failure.observe(order, Parcel.model_validate({"id": 100, "status": "CANCELLED", "validations": OUT}))
    assert order.stock_failed_since == first  # kept while the cancelled parcel's items are refused
    order.state = OrderState.CANCELLED.value
    stock_failure.settled(order)
    assert order.stock_failed_since is None
    order.stock_failed_since = first
    stock_failure.observe(order, Parcel.model_validate({"id": 100, "status": "PICKED"}))
    assert order.stock_failed_since is None


def test_a_cancelled_parcel_is_the_connectors_refusal_once_the_delay_has_passed() -> None:
    reason = stock_failure.cancelled_reason(_connection(4), _order())
    assert reason is not None
    assert reason.startswith("Cubyn had no stock for this order for 4 hours")
    refused_one = _order(item={"refused_at": SINCE, "rakuten_status": "REFUSED"})  # halfway when the worker died
    assert stock_failure.cancelled_reason(_connection(4), refused_one) == reason
    assert stock_failure.cancelled_reason(_connection(6), _order()) is None  # not yet: Cubyn cancelled it
    assert stock_failure.cancelled_reason(_connection(None), _order()) is None
    assert stock_failure.cancelled_reason(_connection(4), _order(stock_failed_since=None)) is None
    accepted = _order(item={"accepted_at": SINCE, "rakuten_status": "ACCEPTED"})
    assert stock_failure.cancelled_reason(_connection(4), accepted) is None
