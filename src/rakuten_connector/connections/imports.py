"""A connection's import bookkeeping, as the scheduler and the merchant write it: when its next import is
due (`next_import_at`) and until when a queued import job claims it (`import_queued_until`).

Kept apart from `service.py`, which uses the orders' service: the orders' scheduler and service write these
columns through here without importing it back. The poll writes them too, as it releases the import lease
(`orders/poll.py`). Flushes but never commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit.clock import utcnow


async def claim_due_imports(session: AsyncSession, now: datetime, until: datetime, limit: int) -> list[str]:
    """Claim until `until` the import of up to `limit` connections that are due at `now` (active, not
    paused, `next_import_at` passed, no claim still running), the earliest due first; returns their ids.

    One UPDATE of the rows its subquery locks: two ticks or two workers claiming at once claim each
    connection once (PostgreSQL: a concurrent claim skips the rows being claimed)."""
    due = (
        select(Connection.id)
        .where(
            Connection.state == ConnectionState.ACTIVE.value,
            Connection.paused.is_(False),
            Connection.next_import_at <= now,
            or_(Connection.import_queued_until.is_(None), Connection.import_queued_until <= now),
        )
        .order_by(Connection.next_import_at)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL: a concurrent tick skips the rows being claimed
    )
    return list(
        await session.scalars(
            update(Connection)
            .where(Connection.id.in_(due.scalar_subquery()))
            .values(import_queued_until=until)
            .returning(Connection.id)
            .execution_options(synchronize_session=False)
        )
    )


async def free_import_claims(session: AsyncSession, connection_ids: Sequence[str], claim: datetime) -> None:
    """Free the claims `claim_due_imports` wrote (claimed until `claim`) on these connections, so the next
    tick queues them again; a connection claimed again since keeps its new claim."""
    await session.execute(
        update(Connection)
        .where(Connection.id.in_(connection_ids), Connection.import_queued_until == claim)
        .values(import_queued_until=None)
        .execution_options(synchronize_session=False)
    )


def ask_import_now(connection: Connection) -> datetime:
    """Make the connection's import due now, so the scheduler picks it up even if its job is lost; returns
    that instant."""
    now = utcnow()
    connection.next_import_at = now
    return now
