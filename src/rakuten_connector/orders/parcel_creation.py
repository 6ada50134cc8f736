"""Create an order's Cubyn parcel exactly once: the step after `recording` wrote the order down.

The poll runs it for the new orders of its connection, and `check` for an order whose creation did not
finish (a crash, a transient Cubyn error, a retry asked by the merchant), each time under the order's
lease. Once the parcel is known the order is `imported`; a parcel Cubyn already validated or moved on is
applied at once (`progress`).

The order row (state `importing`, with its request) is committed before Cubyn is called. Every call
carries `Idempotency-Key: RAKUTEN-<purchaseid>`; a 409 names the parcel this orderRef already has and the
order adopts it; after an attempt whose outcome is unknown (timeout, crash), the parcel is first looked up
by orderRef. So retries, crashes and racing workers never make a second parcel.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.clients.cubyn import (
    CubynAuthError,
    CubynInvalidFields,
    CubynPermanentError,
    CubynTransientError,
)
from rakuten_connector.clients.cubyn_models import Parcel, ParcelRequest
from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.orders.progress import RECHECK_AFTER, apply_parcel
from rakuten_connector.orders.service import transition
from rakuten_connector.runtime import Runtime


async def ensure_parcel(rt: Runtime, session: AsyncSession, connection: Connection, order: Order) -> None:
    """Give an `importing` order its parcel (or a clear failure). Commits; raises CubynAuthError upward."""
    if order.state != OrderState.IMPORTING or order.parcel_request is None:
        return
    cubyn = rt.cubyn(connection)
    request = ParcelRequest.model_validate_json(order.parcel_request)
    try:
        parcel: Parcel | None = None
        if order.attempts > 0:
            # A previous attempt may have created it before we could write it down.
            parcel = await cubyn.find_parcel(order.order_ref)
        if parcel is None:
            order.attempts += 1
            order.next_check_at = utcnow() + rt.settings.order_backoff.delay(order.attempts)
            await session.commit()  # an unknown outcome from here on means "look it up first"
            created = await cubyn.create_parcel(request, idempotency_key=order.order_ref)
            parcel = created.parcel or await cubyn.get_parcel(created.parcel_id)
            how = "created" if created.created else "already existed and was adopted"
        else:
            how = "found by its orderRef and adopted"
    except CubynInvalidFields as exc:
        fields = ", ".join(f"{e.field} ({e.message})" if e.message else e.field for e in exc.errors)
        reason = f"Cubyn refused the parcel: invalid {fields or 'fields'}. Fix the data, then retry the order."
        _fail(session, order, reason)
        await session.commit()
        return
    except CubynAuthError:
        raise
    except CubynTransientError as exc:
        order.last_error = str(exc)
        if rt.settings.order_backoff.exhausted(order.attempts):
            _fail(session, order, "Cubyn did not answer after many attempts. Retry the order once Cubyn is back.")
        await session.commit()
        return
    except CubynPermanentError as exc:
        _fail(session, order, f"Cubyn refused the parcel ({exc.message}). Retry the order once fixed.")
        await session.commit()
        return
    order.parcel_id = str(parcel.id)
    order.tracking_id = parcel.tracking_id
    order.parcel_status = parcel.status
    order.last_error = None
    order.attempts = 0
    order.next_check_at = utcnow() + RECHECK_AFTER[OrderState.IMPORTED]
    transition(session, order, OrderState.IMPORTED, "imported", f"Cubyn parcel {parcel.tracking_id} {how}.")
    await session.commit()
    if parcel.is_validated or parcel.status != "CREATED":
        await apply_parcel(rt, session, connection, order, parcel)


def _fail(session: AsyncSession, order: Order, reason: str) -> None:
    transition(session, order, OrderState.FAILED, "failed", reason, reason=reason)
    order.next_check_at = None
