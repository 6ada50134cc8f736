"""Suggested SKU mappings: a SKU only Rakuten has and one only Cubyn has that are surely the same product.

Two SKUs are paired when they differ only by case, whitespace (surrounding or inner), separators (`-`, `_`,
`.`, `/`, space) or leading zeros of a number. The rules are tried in that order, each one on top of the
ones before; a pair names the first rule that made the two equal. A spelling that two SKUs of one side share
is ambiguous: it gives no suggestion (the merchant must choose).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum


class SuggestionRule(StrEnum):
    CASE = "case"
    WHITESPACE = "whitespace"
    SEPARATORS = "separators"
    LEADING_ZEROS = "leading_zeros"


@dataclass(frozen=True, slots=True)
class Suggestion:
    rakuten_sku: str
    cubyn_sku: str
    rule: SuggestionRule


_WHITESPACE = re.compile(r"\s+")
_SEPARATORS = re.compile(r"[-_./\s]+")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")


def _case(sku: str) -> str:
    return sku.casefold()


def _whitespace(sku: str) -> str:
    return _WHITESPACE.sub("", sku.casefold())


def _separators(sku: str) -> str:
    return _SEPARATORS.sub("", sku.casefold())


def _leading_zeros(sku: str) -> str:
    # Zeros go before separators do: `1-05` is `1-5`, not `105`.
    return _separators(_LEADING_ZEROS.sub("", sku))


# Each key applies its rule and every rule before it.
_KEYS: tuple[tuple[SuggestionRule, Callable[[str], str]], ...] = (
    (SuggestionRule.CASE, _case),
    (SuggestionRule.WHITESPACE, _whitespace),
    (SuggestionRule.SEPARATORS, _separators),
    (SuggestionRule.LEADING_ZEROS, _leading_zeros),
)


def _unique_by_key(skus: Iterable[str], key: Callable[[str], str]) -> dict[str, str]:
    """key -> SKU, for keys exactly one SKU has."""
    found: dict[str, str | None] = {}
    for sku in skus:
        k = key(sku)
        found[k] = None if k in found else sku
    return {k: sku for k, sku in found.items() if sku is not None}


def suggest(only_on_rakuten: Iterable[str], only_on_cubyn: Iterable[str]) -> list[Suggestion]:
    """The pairs to suggest, in Rakuten SKU order; each SKU is in at most one pair."""
    rakuten = sorted(set(only_on_rakuten))
    cubyn = sorted(set(only_on_cubyn))
    paired_rakuten: set[str] = set()
    paired_cubyn: set[str] = set()
    suggestions: list[Suggestion] = []
    for rule, key in _KEYS:
        left = _unique_by_key((s for s in rakuten if s not in paired_rakuten), key)
        right = _unique_by_key((s for s in cubyn if s not in paired_cubyn), key)
        for k, rakuten_sku in left.items():
            cubyn_sku = right.get(k)
            if cubyn_sku is not None:
                suggestions.append(Suggestion(rakuten_sku, cubyn_sku, rule))
                paired_rakuten.add(rakuten_sku)
                paired_cubyn.add(cubyn_sku)
    return sorted(suggestions, key=lambda s: s.rakuten_sku)
