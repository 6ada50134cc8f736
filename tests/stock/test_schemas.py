"""The stock answers' own enums say what the models' do."""

from __future__ import annotations

from rakuten_connector.stock.models import SyncPhase
from rakuten_connector.stock.schemas import SyncPhaseOut


def test_the_answered_phases_are_the_stored_ones() -> None:
    assert [(p.name, p.value) for p in SyncPhaseOut] == [(p.name, p.value) for p in SyncPhase]
