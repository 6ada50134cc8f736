"""Column types that read back the same on every backend."""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, TypeDecorator
from sqlalchemy.engine import Dialect

from rakuten_connector.kit.clock import as_utc


class UTCDateTime(TypeDecorator[Any]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else as_utc(value)
