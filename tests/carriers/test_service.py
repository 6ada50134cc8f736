"""A connection's carrier choices in the database: one key per shipping type whatever its spelling, and a
stored value this version does not know is ignored rather than breaking the import."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.carriers import service
from rakuten_connector.carriers.models import CarrierChoice
from rakuten_connector.kit.errors import ApiError
from rakuten_connector.mapping.carriers import CarrierChoiceValue
from tests.factories import add_connection


def test_a_patch_is_keyed_by_the_normalized_shipping_type() -> None:
    changes = service.validated(
        {" So   Colissimo ": CarrierChoiceValue.STANDARD, "Mode personnalisé 1": None, "RECOMMANDE": None}
    )
    assert changes == {
        "so colissimo": ("So Colissimo", CarrierChoiceValue.STANDARD),
        "mode personnalise 1": ("Mode personnalisé 1", None),
        "recommande": ("RECOMMANDE", None),
    }


def test_a_patch_names_every_faulty_entry() -> None:
    with pytest.raises(ApiError) as refused:
        service.validated(
            {
                "Suivi": CarrierChoiceValue.STANDARD,
                "So Colissimo": CarrierChoiceValue.RELAY,
                "SUIVI": CarrierChoiceValue.EXPRESS,
                "\u0301": CarrierChoiceValue.STANDARD,
            }
        )
    assert (refused.value.status_code, refused.value.code) == (422, "validation_error")
    assert [(d["loc"], d["type"]) for d in refused.value.details] == [
        (["body", "So Colissimo"], "relay_unavailable"),
        (["body", "SUIVI"], "duplicate"),
        (["body", "\u0301"], "string_unusable"),
    ]


async def test_an_unknown_stored_choice_is_left_out(sessions: async_sessionmaker[AsyncSession]) -> None:
    connection_id = await add_connection(sessions)
    async with sessions() as session:
        session.add_all(
            [
                CarrierChoice(
                    connection_id=connection_id, shipping_key="suivi", shipping_type="Suivi", choice="DRONE"
                ),
                CarrierChoice(
                    connection_id=connection_id,
                    shipping_key="so colissimo",
                    shipping_type="So Colissimo",
                    choice="EXPRESS",
                ),
            ]
        )
        await session.commit()
        assert await service.carrier_choices(session, connection_id) == {
            "so colissimo": CarrierChoiceValue.EXPRESS
        }
        rows = {row.shipping_type: row for row in await service.effective(session, connection_id)}
    assert (rows["Suivi"].cubyn, rows["Suivi"].source) == (CarrierChoiceValue.STANDARD, "default")
    assert (rows["So Colissimo"].cubyn, rows["So Colissimo"].source) == (CarrierChoiceValue.EXPRESS, "connection")
