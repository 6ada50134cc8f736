"""The test suite's throw-away PostgreSQL databases and Redis dbs, for the benchmarks (run as scripts)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, where `tests` lives

from tests.scratch import scratch_database, scratch_redis_db

__all__ = ["scratch_database", "scratch_redis_db"]
