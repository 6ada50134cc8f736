"""End-to-end tests run real processes against PostgreSQL (several processes share the database)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _postgres_only(request: pytest.FixtureRequest, test_db_kind: str) -> None:
    if request.node.get_closest_marker("processes") and test_db_kind != "postgresql":
        pytest.skip("process-level end-to-end tests run on PostgreSQL (make test-postgres)")
