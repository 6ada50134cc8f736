"""Who follows a Cubyn SKU."""

from __future__ import annotations

from rakuten_connector.skus.service import FollowerIndex


def test_a_cubyn_sku_is_followed_by_its_own_spelling_and_every_rakuten_sku_mapped_to_it() -> None:
    index = FollowerIndex({"R-1": "X", "R-2": "X", "Y": "X", "Z": "Z"})
    assert index.of("X") == ["X", "R-1", "R-2", "Y"]
    assert index.of("Y") == []  # Y is sold as X
    assert index.of("Z") == ["Z"]
    assert index.of("W") == ["W"]


def test_mappings_compare_exactly() -> None:
    index = FollowerIndex({"r-1": "x"})
    assert index.of("X") == ["X"]
    assert index.of("x") == ["x", "r-1"]
