"""The Rakuten client's typed results: how labels compare, what a report line and an item read say."""

from __future__ import annotations

import dataclasses

import pytest

from rakuten_connector.clients.rakuten_models import (
    NO_OFFER_ERROR_CODE,
    ItemInfo,
    ProductError,
    ProductReport,
    normalize_label,
)


@pytest.mark.parametrize(
    "spelling",
    [
        "So Colissimo",
        "So   Colissimo",
        "  so colissimo\n",
        "SO\u00a0COLISSIMO",
        "So\tColissimo",
        "\uff53\uff4f colissimo",
    ],
)
def test_labels_compare_after_normalization_trimming_collapsing_and_case_folding(spelling: str) -> None:
    assert normalize_label(spelling) == "so colissimo"


def test_label_normalization_composes_accents() -> None:
    assert normalize_label("Recommande\u0301") == normalize_label("RECOMMANDÉ") == "recommandé"
    assert normalize_label("Mode   personnalisé 1") == "mode personnalisé 1"


def test_a_report_line_exposes_its_error_codes_and_whether_the_sku_has_no_offer() -> None:
    no_offer = ProductError("alias", NO_OFFER_ERROR_CODE, "L'alias est obligatoire pour les créations de produit.")
    other = ProductError("qty", "12", "Quantité invalide")
    assert NO_OFFER_ERROR_CODE == "60"
    assert ProductReport("A", "Erreur", False, (other, no_offer)).error_codes == ("12", "60")
    assert ProductReport("A", "Erreur", False, (other, no_offer)).no_offer
    assert not ProductReport("B", "Erreur", False, (other,)).no_offer
    assert not ProductReport("C", "Traité", True).no_offer


def test_an_item_read_has_no_tracking_field() -> None:
    assert [f.name for f in dataclasses.fields(ItemInfo)] == ["item_id", "status", "shipped"]
    assert ItemInfo("1", "ACCEPTED").shipped is None
