"""Suggested mappings: the rules, each with the name of the first that pairs two SKUs, and ambiguity."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rakuten_connector.skus.suggestions import Suggestion, SuggestionRule, suggest

RULES = list(SuggestionRule)
letters = st.text(alphabet="abcdefgXYZ", min_size=1, max_size=6)
digits = st.text(alphabet="123456789", min_size=1, max_size=4)


def test_each_rule_pairs_what_it_should_and_names_itself() -> None:
    pairs = suggest(
        ["abc-1", "  Shirt M ", "TEE_RED", "SKU-007", "exact"],
        ["ABC-1", "ShirtM", "tee.red", "sku7", "other"],
    )
    assert pairs == [
        Suggestion("  Shirt M ", "ShirtM", SuggestionRule.WHITESPACE),
        Suggestion("SKU-007", "sku7", SuggestionRule.LEADING_ZEROS),
        Suggestion("TEE_RED", "tee.red", SuggestionRule.SEPARATORS),
        Suggestion("abc-1", "ABC-1", SuggestionRule.CASE),
    ]


def test_a_spelling_two_skus_of_one_side_share_suggests_nothing() -> None:
    assert suggest(["ab-1"], ["AB-1", "ab_1"]) == [Suggestion("ab-1", "AB-1", SuggestionRule.CASE)]
    assert suggest(["ab-1"], ["AB_1", "ab.1"]) == []
    assert suggest(["A1", "a-1"], ["a.1"]) == []


def test_numbers_keep_their_value_and_other_differences_are_not_suggested() -> None:
    assert suggest(["A10"], ["A1"]) == []
    assert suggest(["SKU-1-05"], ["sku15"]) == [Suggestion("SKU-1-05", "sku15", SuggestionRule.LEADING_ZEROS)]
    assert suggest(["0"], ["00"]) == [Suggestion("0", "00", SuggestionRule.LEADING_ZEROS)]
    assert suggest(["shirt"], ["shirts"]) == []


def _spell(parts: list[str], rule: SuggestionRule, flip: bool) -> str:
    """One spelling of the SKU made of `parts`, using differences up to `rule`."""
    separator = {SuggestionRule.SEPARATORS: "-", SuggestionRule.LEADING_ZEROS: "/"}.get(rule, "")
    text = separator.join(("00" + p if rule is SuggestionRule.LEADING_ZEROS and p.isdigit() else p) for p in parts)
    if rule is not SuggestionRule.CASE and flip:
        text = f" {text} "
    return text.swapcase() if flip else text


@given(parts=st.lists(st.one_of(letters, digits), min_size=1, max_size=4), rule=st.sampled_from(RULES))
def test_two_spellings_that_differ_within_a_rule_are_paired_by_that_rule_or_an_earlier_one(
    parts: list[str], rule: SuggestionRule
) -> None:
    rakuten, cubyn = _spell(parts, rule, flip=True), "".join(parts)
    if rakuten == cubyn:
        return
    found = suggest([rakuten], [cubyn])
    assert len(found) == 1
    assert (found[0].rakuten_sku, found[0].cubyn_sku) == (rakuten, cubyn)
    assert RULES.index(found[0].rule) <= RULES.index(rule)


@given(rakuten=st.lists(st.text(max_size=8), max_size=20), cubyn=st.lists(st.text(max_size=8), max_size=20))
def test_every_sku_is_in_at_most_one_pair_and_pairs_come_from_the_lists(
    rakuten: list[str], cubyn: list[str]
) -> None:
    pairs = suggest(rakuten, cubyn)
    assert len({p.rakuten_sku for p in pairs}) == len(pairs) == len({p.cubyn_sku for p in pairs})
    assert all(p.rakuten_sku in rakuten and p.cubyn_sku in cubyn for p in pairs)
