from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rakuten_connector.clients.cubyn_models import Parcel
from rakuten_connector.mapping.statuses import (
    CANCEL_COMMENT_MAX,
    AcceptItem,
    CancelItem,
    ItemProgress,
    OrderProgress,
    OrderState,
    PushTracking,
    StockCheck,
    decide,
    hours_words,
    out_of_stock_reason,
    record_done,
    stock_check,
)

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
PASSED = {"address": {"status": "PASSED"}, "stock": {"status": "PASSED"}}


def parcel(status: str, minutes: int = 0, *, validated: bool = False, **extra: Any) -> Parcel:
    body: dict[str, Any] = {
        "id": 123456,
        "orderRef": "RAKUTEN-1",
        "status": status,
        "validations": PASSED if validated else {"address": {"status": "PENDING"}, "stock": {"status": "PENDING"}},
        "validatedAt": (T0 + timedelta(minutes=minutes)).isoformat() if validated else None,
        "carrier": "COLISSIMO" if extra.pop("shipped", False) else None,
        "updatedAt": (T0 + timedelta(minutes=minutes)).isoformat(),
        "unknownField": {"ignored": True},
        **extra,
    }
    return Parcel.model_validate(body)


def progress(*items: ItemProgress, state: OrderState = OrderState.IMPORTED) -> OrderProgress:
    return OrderProgress(items=items or (ItemProgress("1"), ItemProgress("2")), state=state)


ACCEPTED = (ItemProgress("1", accepted=True), ItemProgress("2", accepted=True))
TRACKED = (
    ItemProgress("1", accepted=True, tracking_pushed=True),
    ItemProgress("2", accepted=True, tracking_pushed=True),
)


def kinds(actions: tuple[object, ...]) -> list[tuple[str, str]]:
    return [(type(a).__name__, a.item_id) for a in actions]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("the_parcel", "items", "expected_actions", "state"),
    [
        (parcel("CREATED"), (), [], OrderState.IMPORTED),
        (parcel("CREATED", validated=True), (), [("AcceptItem", "1"), ("AcceptItem", "2")], OrderState.ACCEPTED),
        (parcel("CREATED", validated=True), ACCEPTED, [], OrderState.ACCEPTED),
        (parcel("PICKED", validated=True), (), [("AcceptItem", "1"), ("AcceptItem", "2")], OrderState.ACCEPTED),
        (parcel("PACKED", validated=True), ACCEPTED, [], OrderState.ACCEPTED),
        (
            parcel("SHIPPED", validated=True, shipped=True),
            (),
            [("AcceptItem", "1"), ("AcceptItem", "2"), ("PushTracking", "1"), ("PushTracking", "2")],
            OrderState.SHIPPED,
        ),
        (
            parcel("SHIPPED", validated=True),
            (ItemProgress("1", accepted=True, tracking_pushed=True), ItemProgress("2", accepted=True)),
            [("PushTracking", "2")],
            OrderState.SHIPPED,
        ),
        *[
            (
                parcel(status, validated=True),
                ACCEPTED,
                [("PushTracking", "1"), ("PushTracking", "2")],
                OrderState.SHIPPED,
            )
            for status in (
                "CARRIER_IN_TRANSIT",
                "CARRIER_OUT_FOR_DELIVERY",
                "CARRIER_FAILED_ATTEMPT",
                "CARRIER_EXCEPTION",
                "CARRIER_DELIVERED",
                "RETURNING",
                "RETURNED",
            )
        ],
        (parcel("CARRIER_DELIVERED", validated=True), TRACKED, [], OrderState.SHIPPED),
        (parcel("CANCELLED"), (), [("RefuseItem", "1"), ("RefuseItem", "2")], OrderState.CANCELLED),
        (parcel("CANCELLED"), ACCEPTED, [("CancelItem", "1"), ("CancelItem", "2")], OrderState.CANCELLED),
        (
            parcel("CANCELLED"),
            (ItemProgress("1", accepted=True), ItemProgress("2")),
            [("CancelItem", "1"), ("RefuseItem", "2")],
            OrderState.CANCELLED,
        ),
        (
            parcel("CANCELLED"),
            (ItemProgress("1", refused=True), ItemProgress("2", cancelled=True)),
            [],
            OrderState.CANCELLED,
        ),
        (parcel("CANCELLED"), TRACKED, [], OrderState.NEEDS_ATTENTION),
        (parcel("CUBYN_EXCEPTION", validated=True), (), [], OrderState.NEEDS_ATTENTION),
        (parcel("SOMETHING_NEW", validated=True), ACCEPTED, [], OrderState.IMPORTED),
        (
            parcel("SOMETHING_NEW", validated=True, shippedAt=T0.isoformat()),
            ACCEPTED,
            [("PushTracking", "1"), ("PushTracking", "2")],
            OrderState.SHIPPED,
        ),
        (
            parcel("CREATED"),
            (ItemProgress("1", cancelled=True), ItemProgress("2", refused=True)),
            [],
            OrderState.IMPORTED,
        ),
        (parcel("PACKED", validated=True), (ItemProgress("1", cancelled=True),), [], OrderState.NEEDS_ATTENTION),
        (
            parcel("SHIPPED", validated=True),
            (ItemProgress("1", accepted=True, cancelled=True), ItemProgress("2")),
            [("AcceptItem", "2"), ("PushTracking", "2")],
            OrderState.SHIPPED,
        ),
    ],
)
def test_decision_table(
    the_parcel: Parcel, items: tuple[ItemProgress, ...], expected_actions: list[tuple[str, str]], state: OrderState
) -> None:
    decision = decide(the_parcel, progress(*items))
    assert kinds(decision.actions) == expected_actions
    assert decision.state is state
    assert decision.watermark == the_parcel.updated_at
    assert not decision.stale


@pytest.mark.parametrize(
    ("validations", "reason_part"),
    [
        ({"address": {"status": "PASSED"}, "stock": {"status": "FAILED", "error": "STOCK_CHECK_FAILED"}}, "stock"),
        ({"address": {"status": "PASSED"}, "stock": {"status": "FAILED", "error": "VALIDATION_FAILED"}}, "SKU"),
        ({"address": {"status": "FAILED"}, "stock": {"status": "PASSED"}}, "address"),
        ({"address": {"status": "PASSED"}, "customs": {"status": "FAILED", "error": "WEIRD"}}, "customs"),
    ],
)
def test_failed_validation_needs_attention_without_refusing(validations: dict[str, Any], reason_part: str) -> None:
    decision = decide(parcel("CREATED", validations=validations), progress())
    assert decision.actions == ()
    assert decision.state is OrderState.NEEDS_ATTENTION
    assert decision.reason is not None
    assert reason_part in decision.reason


OUT = {"status": "FAILED", "error": "STOCK_CHECK_FAILED"}


@pytest.mark.parametrize(
    ("the_parcel", "check"),
    [
        (parcel("CREATED", validations={"address": {"status": "PASSED"}, "stock": OUT}), StockCheck.OUT_OF_STOCK),
        (parcel("CREATED", validations={"address": {"status": "FAILED"}, "Stock": OUT}), StockCheck.OUT_OF_STOCK),
        (
            parcel(" created ", validations={"stock": {"status": "failed", "error": "stock_check_failed"}}),
            StockCheck.OUT_OF_STOCK,
        ),
        (parcel("CREATED", validations={"stock": {"status": "PENDING"}}), StockCheck.RECHECKING),
        (parcel("CREATED"), StockCheck.RECHECKING),
        (
            parcel("CREATED", validations={"stock": {"status": "FAILED", "error": "VALIDATION_FAILED"}}),
            StockCheck.CLEAR,
        ),
        (parcel("CREATED", validations={"stock": {"status": "FAILED"}}), StockCheck.CLEAR),
        (parcel("CREATED", validations={"address": {"status": "FAILED"}}), StockCheck.CLEAR),
        (parcel("CREATED", validated=True), StockCheck.CLEAR),
        (parcel("CREATED", validations={"stock": OUT}, shippedAt=T0.isoformat()), StockCheck.CLEAR),
        *[
            (parcel(status, validations={"stock": OUT}), StockCheck.CLEAR)
            for status in ("PICKED", "CANCELLED", "NEW")
        ],
    ],
)
def test_a_parcel_is_out_of_stock_only_while_it_waits_for_a_stock_check_that_failed(
    the_parcel: Parcel, check: StockCheck
) -> None:
    assert stock_check(the_parcel) is check


def test_an_order_out_of_stock_says_when_it_will_be_refused_if_the_merchant_chose_a_delay() -> None:
    failed = parcel("CREATED", validations={"address": {"status": "FAILED"}, "stock": OUT})
    reason = decide(failed, progress(), refuse_after_hours=1).reason
    assert reason is not None
    assert "otherwise the sale is refused on Rakuten 1 hour after Cubyn's stock check failed" in reason
    assert "address" in reason
    assert decide(failed, progress()).reason != reason
    unknown_sku = parcel("CREATED", validations={"stock": {"status": "FAILED", "error": "VALIDATION_FAILED"}})
    assert decide(unknown_sku, progress(), refuse_after_hours=1).reason == decide(unknown_sku, progress()).reason
    # The refusal reads the check named "stock" only: an out-of-stock error elsewhere promises nothing.
    elsewhere = parcel("CREATED", validations={"inventory": OUT})
    assert decide(elsewhere, progress(), refuse_after_hours=1).reason == decide(elsewhere, progress()).reason


def test_a_parcel_the_connector_cancelled_refuses_the_items_with_its_reason() -> None:
    reason = out_of_stock_reason(12)
    assert reason == (
        "Cubyn had no stock for this order for 12 hours: the Cubyn parcel was cancelled and the sale refused on Rakuten."
    )
    decision = decide(parcel("CANCELLED"), progress(), cancelled_reason=reason)
    assert (kinds(decision.actions), decision.state, decision.reason) == (
        [("RefuseItem", "1"), ("RefuseItem", "2")],
        OrderState.CANCELLED,
        reason,
    )
    assert decide(parcel("CANCELLED"), progress()).reason == "Cubyn cancelled the parcel."
    assert (hours_words(1), hours_words(47)) == ("1 hour", "47 hours")


def test_restocked_parcel_is_then_accepted() -> None:
    failed = parcel("CREATED", 1, validations={"stock": {"status": "FAILED", "error": "STOCK_CHECK_FAILED"}})
    first = decide(failed, progress())
    after = record_done(progress(), first)
    second = decide(parcel("CREATED", 2, validated=True), after)
    assert kinds(second.actions) == [("AcceptItem", "1"), ("AcceptItem", "2")]
    assert second.state is OrderState.ACCEPTED


def test_tracking_action_carries_the_cub_id_whatever_the_carrier() -> None:
    shipped = parcel("SHIPPED", validated=True, carrier="COLISSIMO", carrierTrackingId="6A123")
    decision = decide(shipped, progress(*ACCEPTED))
    assert decision.actions[0] == PushTracking("1", "CUB123456")


def test_cancel_comment_is_kept_within_400_characters() -> None:
    decision = decide(parcel("CANCELLED"), progress(*ACCEPTED), cancel_comment="x" * 1000)
    assert all(isinstance(a, CancelItem) and len(a.comment) == CANCEL_COMMENT_MAX for a in decision.actions)
    default = decide(parcel("CANCELLED"), progress(*ACCEPTED))
    assert all(isinstance(a, CancelItem) and 0 < len(a.comment) <= CANCEL_COMMENT_MAX for a in default.actions)


def test_older_event_is_stale() -> None:
    newer = decide(parcel("SHIPPED", 10, validated=True), progress())
    done = record_done(progress(), newer)
    older = decide(parcel("CREATED", 5, validated=True), done)
    assert older.stale
    assert older.actions == ()
    assert older.state is OrderState.SHIPPED
    assert older.watermark == done.parcel_updated_at


def test_state_never_goes_back() -> None:
    decision = decide(parcel("PACKED", 20, validated=True), progress(*TRACKED, state=OrderState.SHIPPED))
    assert decision.state is OrderState.SHIPPED
    assert decision.actions == ()


def test_naive_timestamps_are_taken_as_utc() -> None:
    naive = Parcel.model_validate({"id": 1, "status": "CREATED", "updatedAt": "2026-11-27T09:00:00"})
    aware = OrderProgress(items=(ItemProgress("1"),), parcel_updated_at=T0)
    assert decide(naive, aware).stale


# -- properties: monotonic ------------------------------------------------------------------------------

LIFECYCLE = ["CREATED", "CREATED+V", "PICKED", "PACKED", "SHIPPED", "CARRIER_IN_TRANSIT", "CARRIER_DELIVERED"]


def lifecycle_event(step: str, minute: int) -> Parcel:
    if step == "CANCELLED":
        return parcel("CANCELLED", minute)
    if step == "CREATED+V":
        return parcel("CREATED", minute, validated=True)
    return parcel(step, minute, validated=step != "CREATED")


@st.composite
def histories(draw: st.DrawFn) -> list[Parcel]:
    """A parcel's events in time order (a normal life, or cancelled while CREATED)."""
    length = draw(st.integers(min_value=1, max_value=len(LIFECYCLE)))
    steps = LIFECYCLE[:length]
    if length <= 2 and draw(st.booleans()):
        steps = [*steps, "CANCELLED"]
    return [lifecycle_event(step, minute) for minute, step in enumerate(steps)]


item_sets = st.lists(st.sampled_from(["1", "2", "3"]), min_size=1, max_size=3, unique=True)


@given(histories(), item_sets, st.randoms(use_true_random=False))
def test_any_delivery_order_gives_each_action_at_most_once(
    events: list[Parcel], item_ids: list[str], rnd: Any
) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    duplicated = shuffled + [rnd.choice(events) for _ in range(3)]
    state = OrderProgress(items=tuple(ItemProgress(i) for i in item_ids))
    seen: list[tuple[str, str]] = []
    for event in duplicated:
        decision = decide(event, state)
        seen.extend(kinds(decision.actions))
        state = record_done(state, decision)
    assert len(seen) == len(set(seen))
    for item in item_ids:
        # An item is never both refused and accepted, and tracking always follows acceptance.
        assert not {("RefuseItem", item), ("AcceptItem", item)} <= set(seen)
        if ("PushTracking", item) in seen:
            assert seen.index(("AcceptItem", item)) < seen.index(("PushTracking", item))


@given(histories(), item_sets)
def test_same_event_twice_gives_nothing_new(events: list[Parcel], item_ids: list[str]) -> None:
    state = OrderProgress(items=tuple(ItemProgress(i) for i in item_ids))
    for event in events:
        first = decide(event, state)
        state = record_done(state, first)
        again = decide(event, state)
        assert again.actions == ()
        assert again.state is first.state


@given(histories(), item_sets, st.data())
def test_older_event_after_newer_gives_nothing(
    events: list[Parcel], item_ids: list[str], data: st.DataObject
) -> None:
    newer_index = data.draw(st.integers(min_value=0, max_value=len(events) - 1))
    older_index = data.draw(st.integers(min_value=0, max_value=newer_index))
    state = OrderProgress(items=tuple(ItemProgress(i) for i in item_ids))
    state = record_done(state, decide(events[newer_index], state))
    older = decide(events[older_index], state)
    assert older.actions == ()
    assert older.state is state.state


def test_unknown_action_types_are_ignored_by_record_done() -> None:
    decision = decide(parcel("CREATED", validated=True), progress(ItemProgress("1")))
    assert decision.actions == (AcceptItem("1"),)
    assert record_done(progress(ItemProgress("9")), decision).items == (ItemProgress("9"),)
