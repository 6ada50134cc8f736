"""openapi/openapi.json is generated from the app; this fails when it drifts from the code.

Regenerate with `make openapi`.
"""

from __future__ import annotations

import json
from pathlib import Path

from rakuten_connector.main import create_app
from rakuten_connector.openapi import render_openapi

SPEC = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def test_committed_spec_matches_the_code() -> None:
    assert SPEC.read_text() == render_openapi(create_app()), "openapi/openapi.json is stale: run `make openapi`"


def test_spec_documents_the_connection_routes() -> None:
    paths = json.loads(SPEC.read_text())["paths"]
    assert {"post", "get"} <= set(paths["/v1/connections"])
    assert {"get", "patch", "delete"} <= set(paths["/v1/connections/{connection_id}"])
