"""Writing the OpenAPI document: `python -m rakuten_connector.openapi [PATH]` (`make openapi`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fastapi import FastAPI

from rakuten_connector.main import create_app


def render_openapi(app: FastAPI) -> str:
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "openapi/openapi.json")
    target.write_text(render_openapi(create_app()))
