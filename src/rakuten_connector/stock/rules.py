"""A connection's stock publishing rules: what Rakuten shows of what Cubyn has available.

`published = min(max(available - buffer, 0), cap)`: the buffer keeps units back for other channels or
mistakes, the cap keeps a big stock from showing whole. The same formula exists in Python (the report) and
as a SQL expression (stock files and full syncs work set-based), both from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, SQLColumnExpression, case, literal

from rakuten_connector.connections.models import Connection


@dataclass(frozen=True, slots=True)
class PublishingRules:
    buffer: int = 0
    cap: int | None = None

    @classmethod
    def of(cls, connection: Connection) -> PublishingRules:
        return cls(buffer=connection.stock_buffer or 0, cap=connection.stock_max)

    def published(self, available: int) -> int:
        shown = max(available - self.buffer, 0)
        return shown if self.cap is None else min(shown, self.cap)

    def published_sql(self, available: SQLColumnExpression[int]) -> SQLColumnExpression[int]:
        """The same formula over a column (CASE only: SQLite and PostgreSQL agree on it)."""
        shown = available - literal(self.buffer)
        whens: list[tuple[ColumnElement[bool], ColumnElement[int] | int]] = [(shown <= 0, literal(0))]
        if self.cap is not None:
            whens.append((shown > self.cap, literal(self.cap)))
        return case(*whens, else_=shown)
