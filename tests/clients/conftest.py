from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

RAKUTEN_FIXTURES = Path(__file__).parent / "fixtures" / "rakuten"


@pytest.fixture
def rakuten_fixture() -> Callable[[str], bytes]:
    """The bytes of a Rakuten answer fixture, exactly as stored (ISO-8859-1 where Rakuten uses it)."""

    def read(name: str) -> bytes:
        return (RAKUTEN_FIXTURES / name).read_bytes()

    return read
