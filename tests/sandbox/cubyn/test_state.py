"""The Cubyn sandbox's state over time: a parcel out of stock waits as long as nobody restocks, with no
event meanwhile, and is cancelled then, once (what the connector's out-of-stock refusal meets)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rakuten_connector.sandbox.cubyn.models import Application
from rakuten_connector.sandbox.cubyn.render import parcel_json
from rakuten_connector.sandbox.cubyn.state import CubynState
from tests.moving_clock import MovingClock, clock

__all__ = ["clock"]

BODY = {
    "orderRef": "RAKUTEN-1",
    "lastName": "Dupont",
    "address": {"line1": "12 rue de la Paix", "zip": "75002", "city": "Paris", "country": "FR"},
    "deliveryMode": "STANDARD",
    "items": [{"sku": "SKU-1", "quantity": 2}],
}


def test_a_parcel_out_of_stock_waits_for_hours_then_is_cancelled_once(clock: MovingClock) -> None:
    events: list[dict[str, Any]] = []

    def emit(app: Application, event_type: str, data: dict[str, Any]) -> None:
        events.append({"type": event_type, **data})

    state = CubynState(emit)
    app = state.create_application("m1", "Rakuten")
    state.seed("m1", "SKU-1", 1)
    parcel = state.create_parcel(app, BODY)
    state.validate(parcel)
    failed = parcel_json(parcel)
    assert failed["validations"]["stock"] == {"status": "FAILED", "error": "STOCK_CHECK_FAILED"}
    assert state.next_step(parcel) is None  # nothing happens on its own

    clock.advance(timedelta(hours=47))
    state.validate(parcel)  # a re-check with the same stock: no change, no event
    state.move_stock("m1", "SKU-2", 5, "INBOUND")  # another product restocked
    state.revalidate_failed("m1")
    assert parcel_json(parcel) == failed

    assert state.cancel(parcel)
    cancelled = parcel_json(parcel)
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["updatedAt"] > failed["updatedAt"]  # newer: the connector applies it
    assert state.cancel(parcel)  # again: still cancelled, no new event
    parcel_events = [
        (e["status"], e["validations"]["stock"]["status"]) for e in events if e["type"] == "parcel.updated"
    ]
    assert parcel_events == [("CREATED", "PENDING"), ("CREATED", "FAILED"), ("CANCELLED", "FAILED")]
