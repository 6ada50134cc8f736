"""Reading and changing a connection's carrier choices. Services flush but never commit.

A choice is stored under the shipping type's comparison key (`mapping.carriers.normalize_shipping_type`),
the same key the import looks sales up with, so `So Colissimo` and `so   colissimo` are one choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.carriers.models import CarrierChoice
from rakuten_connector.connections.models import Connection
from rakuten_connector.connections.usable import must_be_live
from rakuten_connector.db import insert_for
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.errors import ApiError
from rakuten_connector.mapping.carriers import (
    SHIPPING_TYPE_MAX,
    CarrierChoiceValue,
    ChosenCarrier,
    EffectiveCarrier,
    effective_table,
    normalize_shipping_type,
    relay_refusal,
)
from rakuten_connector.orders.models import Order

log = structlog.get_logger(__name__)

CHUNK = 500
# Choices one connection may keep: a dozen known modes and the seller's own, with room to spare.
CHOICES_MAX = 1000


async def chosen(session: AsyncSession, connection_id: str) -> dict[str, ChosenCarrier]:
    """The connection's choices by comparison key; a stored value this version does not know is left out."""
    rows = await session.execute(
        select(CarrierChoice.shipping_key, CarrierChoice.shipping_type, CarrierChoice.choice).where(
            CarrierChoice.connection_id == connection_id
        )
    )
    found: dict[str, ChosenCarrier] = {}
    for key, shipping_type, choice in rows:
        try:
            found[key] = ChosenCarrier(shipping_type, CarrierChoiceValue(choice))
        except ValueError:
            log.warning("carrier_choice_unknown", connection_id=connection_id, choice=choice[:32])
    return found


async def carrier_choices(session: AsyncSession, connection_id: str) -> dict[str, CarrierChoiceValue]:
    """What the import needs: comparison key -> choice."""
    return {key: row.choice for key, row in (await chosen(session, connection_id)).items()}


async def seen_shipping_types(session: AsyncSession, connection_id: str) -> list[str]:
    """The shipping types of the connection's orders, as Rakuten sent them."""
    rows = await session.scalars(
        select(Order.shipping_type)
        .where(Order.connection_id == connection_id, Order.shipping_type.is_not(None))
        .distinct()
    )
    return [row for row in rows if row is not None]


async def effective(session: AsyncSession, connection_id: str) -> list[EffectiveCarrier]:
    return effective_table(await chosen(session, connection_id), await seen_shipping_types(session, connection_id))


def _problem(shipping_type: str, kind: str, message: str) -> dict[str, Any]:
    return {"loc": ["body", shipping_type], "type": kind, "msg": message}


def _key_problem(shipping_type: str) -> dict[str, Any] | None:
    """What the body's type (`carriers.schemas.ShippingType`) cannot say: a type must still name something
    once normalized (blank, or only accents, does not)."""
    key = normalize_shipping_type(shipping_type)
    if not key or len(key) > SHIPPING_TYPE_MAX:
        return _problem(shipping_type, "string_unusable", "This text cannot name a shipping type.")
    return None


def validated(patch: Mapping[str, CarrierChoiceValue | None]) -> dict[str, tuple[str, CarrierChoiceValue | None]]:
    """The patch by comparison key (with the type as written), or a 422 naming every faulty entry."""
    problems: list[dict[str, Any]] = []
    by_key: dict[str, tuple[str, CarrierChoiceValue | None]] = {}
    for shipping_type, choice in patch.items():
        problem = _key_problem(shipping_type)
        if problem is None and choice is not None and (refusal := relay_refusal(shipping_type, choice)):
            problem = _problem(shipping_type, "relay_unavailable", refusal)
        key = normalize_shipping_type(shipping_type)
        if problem is None and key in by_key:
            problem = _problem(
                shipping_type,
                "duplicate",
                f'Names the same shipping type as "{by_key[key][0]}": keep one of them.',
            )
        if problem is not None:
            problems.append(problem)
            continue
        by_key[key] = (" ".join(shipping_type.split()), choice)
    if problems:
        raise ApiError(422, "validation_error", "The request is not valid.", problems)
    return by_key


async def _upsert(session: AsyncSession, connection_id: str, rows: list[dict[str, Any]]) -> None:
    statement = insert_for(session, CarrierChoice.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["connection_id", "shipping_key"],
        set_={
            "shipping_type": statement.excluded.shipping_type,
            "choice": statement.excluded.choice,
            "updated_at": statement.excluded.updated_at,
        },
    )
    for start in range(0, len(rows), CHUNK):
        await session.execute(statement, rows[start : start + CHUNK])


async def apply_patch(
    session: AsyncSession, connection: Connection, patch: Mapping[str, CarrierChoiceValue | None]
) -> list[EffectiveCarrier]:
    """A JSON merge patch of the connection's choices (null: back to the default); returns the new table.
    Refused as a whole (nothing changed) when any entry is wrong or the connection is disconnected."""
    must_be_live(connection)
    changes = validated(patch)
    now = utcnow()
    rows = [
        {"connection_id": connection.id, "shipping_key": key, "shipping_type": written, "choice": choice.value}
        | {"updated_at": now}
        for key, (written, choice) in sorted(changes.items())
        if choice is not None
    ]
    if rows:
        await _upsert(session, connection.id, rows)
    back_to_default = sorted(key for key, (_, choice) in changes.items() if choice is None)
    for start in range(0, len(back_to_default), CHUNK):
        await session.execute(
            delete(CarrierChoice).where(
                CarrierChoice.connection_id == connection.id,
                CarrierChoice.shipping_key.in_(back_to_default[start : start + CHUNK]),
            )
        )
    count = await session.scalar(select(func.count()).where(CarrierChoice.connection_id == connection.id))
    if (count or 0) > CHOICES_MAX:
        raise ApiError(
            422,
            "validation_error",
            f"A connection keeps at most {CHOICES_MAX} carrier choices: set some back to the default (null).",
            [{"loc": ["body"], "type": "too_long", "msg": f"More than {CHOICES_MAX} carrier choices."}],
        )
    await session.flush()
    return await effective(session, connection.id)
