"""Reading and changing a connection's SKU mappings, and who follows a Cubyn SKU. Services never commit.

Which Rakuten SKUs follow Cubyn SKU X: every Rakuten SKU mapped to X, plus the Rakuten SKU spelled X itself
unless that one is mapped to another Cubyn SKU. Mappings compare exactly: a SKU is case-sensitive.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.db import insert_for
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.cursors import decode_cursor, encode_cursor, fetch_page
from rakuten_connector.skus.models import SkuMapping

CHUNK = 500


@dataclass(frozen=True, slots=True)
class PatchResult:
    upserted: int
    deleted: int
    # Rakuten SKU -> the Cubyn SKU it follows now (itself when its mapping was deleted).
    changed: dict[str, str]


async def list_page(
    session: AsyncSession, connection_id: str, limit: int, cursor: str | None
) -> tuple[Sequence[SkuMapping], str | None]:
    """Mappings in Rakuten SKU order, `limit` at a time."""
    query = select(SkuMapping).where(SkuMapping.connection_id == connection_id).order_by(SkuMapping.rakuten_sku)
    if cursor:
        query = query.where(SkuMapping.rakuten_sku > decode_cursor(cursor, 1)[0])
    return await fetch_page(session, query, limit, lambda row: encode_cursor([row.rakuten_sku]))


async def current(session: AsyncSession, connection_id: str, rakuten_skus: Collection[str]) -> dict[str, str]:
    """Rakuten SKU -> Cubyn SKU for those of `rakuten_skus` that are mapped."""
    found: dict[str, str] = {}
    skus = sorted(set(rakuten_skus))
    for start in range(0, len(skus), CHUNK):
        rows = await session.execute(
            select(SkuMapping.rakuten_sku, SkuMapping.cubyn_sku).where(
                SkuMapping.connection_id == connection_id, SkuMapping.rakuten_sku.in_(skus[start : start + CHUNK])
            )
        )
        found.update({rakuten: cubyn for rakuten, cubyn in rows})
    return found


async def every_mapping(session: AsyncSession, connection_id: str) -> dict[str, str]:
    rows = await session.execute(
        select(SkuMapping.rakuten_sku, SkuMapping.cubyn_sku).where(SkuMapping.connection_id == connection_id)
    )
    return {rakuten: cubyn for rakuten, cubyn in rows}


class FollowerIndex:
    """Who follows which Cubyn SKU, given the mappings that concern them (built once, asked many times)."""

    def __init__(self, mappings: Mapping[str, str]) -> None:
        self._mappings = mappings
        self._mapped_to: dict[str, list[str]] = {}
        for rakuten_sku, cubyn_sku in sorted(mappings.items()):
            if rakuten_sku != cubyn_sku:
                self._mapped_to.setdefault(cubyn_sku, []).append(rakuten_sku)

    def of(self, cubyn_sku: str) -> list[str]:
        """The Rakuten SKUs following `cubyn_sku`: those mapped to it, and its own spelling unless mapped away."""
        own = [cubyn_sku] if self._mappings.get(cubyn_sku, cubyn_sku) == cubyn_sku else []
        return own + self._mapped_to.get(cubyn_sku, [])


async def followers(
    session: AsyncSession, connection_id: str, cubyn_skus: Collection[str]
) -> dict[str, list[str]]:
    """Cubyn SKU -> the Rakuten SKUs that follow it. A connection without mappings costs one cheap query."""
    if not await session.scalar(select(exists().where(SkuMapping.connection_id == connection_id))):
        return {sku: [sku] for sku in cubyn_skus}
    skus = sorted(set(cubyn_skus))
    concerned: dict[str, str] = {}
    for start in range(0, len(skus), CHUNK):
        chunk = skus[start : start + CHUNK]
        rows = await session.execute(
            select(SkuMapping.rakuten_sku, SkuMapping.cubyn_sku).where(
                SkuMapping.connection_id == connection_id,
                or_(SkuMapping.cubyn_sku.in_(chunk), SkuMapping.rakuten_sku.in_(chunk)),
            )
        )
        concerned.update({rakuten: cubyn for rakuten, cubyn in rows})
    index = FollowerIndex(concerned)
    return {sku: index.of(sku) for sku in skus}


async def apply_patch(session: AsyncSession, connection_id: str, patch: Mapping[str, str | None]) -> PatchResult:
    """A JSON merge patch: a string maps the Rakuten SKU, null deletes its mapping."""
    before = await current(session, connection_id, patch.keys())
    upserts = {rakuten: cubyn for rakuten, cubyn in patch.items() if cubyn is not None}
    deletions = sorted(rakuten for rakuten, cubyn in patch.items() if cubyn is None and rakuten in before)
    now = utcnow()
    if upserts:
        statement = insert_for(session, SkuMapping.__table__)
        statement = statement.on_conflict_do_update(
            index_elements=["connection_id", "rakuten_sku"],
            set_={"cubyn_sku": statement.excluded.cubyn_sku, "updated_at": statement.excluded.updated_at},
        )
        rows = [
            {"connection_id": connection_id, "rakuten_sku": rakuten, "cubyn_sku": cubyn, "updated_at": now}
            for rakuten, cubyn in sorted(upserts.items())
        ]
        for start in range(0, len(rows), CHUNK):
            await session.execute(statement, rows[start : start + CHUNK])
    for start in range(0, len(deletions), CHUNK):
        await session.execute(
            delete(SkuMapping).where(
                SkuMapping.connection_id == connection_id,
                SkuMapping.rakuten_sku.in_(deletions[start : start + CHUNK]),
            )
        )
    changed = {r: c for r, c in upserts.items() if before.get(r, r) != c}
    changed.update({r: r for r in deletions if before[r] != r})
    return PatchResult(upserted=len(upserts), deleted=len(deletions), changed=changed)
