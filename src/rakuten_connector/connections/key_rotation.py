"""Key rotation of the secrets stored on connections: each Rakuten token, Cubyn key and webhook secret
encrypted with another key than the first of SECRET_KEYS is encrypted again with the first, so that the
other keys can then be taken out of SECRET_KEYS.

The API and the workers keep running meanwhile, and a merchant may change a secret while its row is being
rotated: each row is written by one UPDATE that names the ciphertexts it read, so a secret written since is
never overwritten with the older one. That row is read again and rotated from what it holds now. Rows are
taken in batches by id; the caller commits each batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.crypto import SecretBox

# Every encrypted column of a connection (the `_enc` naming rule): one added later is rotated too.
SECRET_COLUMNS = tuple(column.name for column in Connection.__table__.columns if column.name.endswith("_enc"))
# How often one row is read again when its secrets keep changing under the rotation.
ROW_TRIES = 5


@dataclass
class RotatedBatch:
    """What a batch found: rows read, secrets encrypted again, secrets already under the first key, the
    connections holding a secret no key opens (left as they are), and those whose secrets kept changing."""

    rows: int = 0
    rotated: int = 0
    current: int = 0
    unreadable: list[str] = field(default_factory=list)
    changing: list[str] = field(default_factory=list)
    last_id: str | None = None


@dataclass
class _Plan:
    new_values: dict[str, str] = field(default_factory=dict)
    current: int = 0
    unreadable: bool = False


def _plan(box: SecretBox, row: Row[Any]) -> _Plan:
    plan = _Plan()
    for column in SECRET_COLUMNS:
        ciphertext = getattr(row, column)
        if ciphertext is None:
            continue
        if box.is_current(ciphertext):
            plan.current += 1
            continue
        try:
            plan.new_values[column] = box.rotate(ciphertext)
        except ValueError:
            plan.unreadable = True
    return plan


def _read(*where: Any) -> Any:
    return select(Connection.id, *(getattr(Connection, column) for column in SECRET_COLUMNS)).where(*where)


async def _rotate_row(session: AsyncSession, box: SecretBox, row: Row[Any], batch: RotatedBatch) -> None:
    for _ in range(ROW_TRIES):
        plan = _plan(box, row)
        if plan.new_values:
            read_values = [getattr(Connection, column) == getattr(row, column) for column in plan.new_values]
            written = await session.execute(
                update(Connection)
                .where(Connection.id == row.id, *read_values)
                # Not a change of the connection: its `updated_at` stays.
                .values(**plan.new_values, updated_at=Connection.updated_at)
                .execution_options(synchronize_session=False)
            )
            if getattr(written, "rowcount", 0) != 1:
                again = (await session.execute(_read(Connection.id == row.id))).one_or_none()
                if again is None:
                    return  # deleted meanwhile: nothing left to rotate
                row = again
                continue
        batch.rotated += len(plan.new_values)
        batch.current += plan.current
        if plan.unreadable:
            batch.unreadable.append(row.id)
        return
    batch.changing.append(row.id)


async def rotate_batch(session: AsyncSession, box: SecretBox, after: str | None, limit: int) -> RotatedBatch:
    """Rotate the secrets of the first `limit` connections whose id comes after `after` (from the first when
    None); `last_id` of the answer is where the next batch starts, None once every row was seen."""
    query = _read(Connection.id > after) if after is not None else _read()
    rows = (await session.execute(query.order_by(Connection.id).limit(limit))).all()
    batch = RotatedBatch(rows=len(rows), last_id=rows[-1].id if len(rows) == limit else None)
    for row in rows:
        await _rotate_row(session, box, row, batch)
    return batch
