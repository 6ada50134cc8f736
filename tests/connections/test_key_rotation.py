"""Key rotation of the stored secrets, batch by batch; a secret changed while its row was being rotated is
never overwritten with the older one (the CLI's `keys rotate` drives it: tests/cli/test_keys.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from cryptography.fernet import Fernet
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections import key_rotation
from rakuten_connector.connections.key_rotation import SECRET_COLUMNS, RotatedBatch, rotate_batch
from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.crypto import SecretBox, new_webhook_secret
from tests.conftest import use_secret
from tests.factories import add_connection

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
UNDER_OLD, UNDER_NEW, ROTATING = SecretBox([OLD]), SecretBox([NEW]), SecretBox([NEW, OLD])


def _secret() -> str:
    return use_secret(f"rotation-CANARY-{uuid.uuid4().hex}")


async def _shop(sessions: async_sessionmaker[AsyncSession]) -> str:
    seller = uuid.uuid4().hex[:10]
    secrets = {column: UNDER_OLD.encrypt(_secret()) for column in SECRET_COLUMNS}
    return await add_connection(sessions, seller_id=seller, seller_key=seller, **secrets)


async def test_batches_go_through_every_row_once_in_id_order(sessions: async_sessionmaker[AsyncSession]) -> None:
    ids = sorted([await _shop(sessions) for _ in range(5)])
    seen: list[RotatedBatch] = []
    after = None
    while True:
        async with sessions() as session:
            batch = await rotate_batch(session, ROTATING, after, 2)
            await session.commit()
        seen.append(batch)
        if batch.last_id is None:
            break
        after = batch.last_id
    per_row = len(SECRET_COLUMNS)
    expected = [(2, 2 * per_row, ids[1]), (2, 2 * per_row, ids[3]), (1, per_row, None)]
    assert [(b.rows, b.rotated, b.last_id) for b in seen] == expected
    async with sessions() as session:
        for connection in await session.scalars(select(Connection)):
            assert all(UNDER_NEW.is_current(getattr(connection, column)) for column in SECRET_COLUMNS)


async def test_a_secret_changed_meanwhile_is_rotated_from_its_new_value(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    shop = await _shop(sessions)
    async with sessions() as session:
        read = (await session.execute(key_rotation._read(Connection.id == shop))).one()
    # The merchant gives a new token after the rotation read the row (from a process still on the old key).
    token = _secret()
    async with sessions() as session:
        await session.execute(
            update(Connection).where(Connection.id == shop).values(rakuten_token_enc=UNDER_OLD.encrypt(token))
        )
        await session.commit()

    batch = RotatedBatch()
    async with sessions() as session:
        await key_rotation._rotate_row(session, ROTATING, read, batch)
        await session.commit()
    assert (batch.rotated, batch.current, batch.changing) == (len(SECRET_COLUMNS), 0, [])
    async with sessions() as session:
        stored = await session.get_one(Connection, shop)
    assert UNDER_NEW.decrypt(stored.rakuten_token_enc or "").get_secret_value() == token


async def test_a_row_deleted_meanwhile_is_left_alone(sessions: async_sessionmaker[AsyncSession]) -> None:
    shop = await _shop(sessions)
    async with sessions() as session:
        read = (await session.execute(key_rotation._read(Connection.id == shop))).one()
        await session.execute(delete(Connection).where(Connection.id == shop))
        await session.commit()
    batch = RotatedBatch()
    async with sessions() as session:
        await key_rotation._rotate_row(session, ROTATING, read, batch)
    assert (batch.rotated, batch.current, batch.unreadable, batch.changing) == (0, 0, [], [])


def test_every_encrypted_column_is_rotated() -> None:
    assert set(SECRET_COLUMNS) == {
        "rakuten_token_enc",
        "cubyn_api_key_enc",
        "webhook_secret_enc",
        "previous_webhook_secret_enc",  # a rotated webhook secret, during its grace period
    }


async def test_a_previous_webhook_secret_in_its_grace_period_is_re_encrypted_too(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # A webhook secret rotated under the old key: its previous secret must move to the new key as well, or
    # taking the old key out of SECRET_KEYS would cut Cubyn off before the grace period ends.
    current, previous = use_secret(new_webhook_secret()), use_secret(new_webhook_secret())
    shop = await _shop(sessions)
    async with sessions() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == shop)
            .values(
                webhook_secret_enc=UNDER_OLD.encrypt(current),
                previous_webhook_secret_enc=UNDER_OLD.encrypt(previous),
                previous_webhook_secret_expires_at=utcnow() + timedelta(hours=1),
            )
        )
        await session.commit()
    async with sessions() as session:
        batch = await rotate_batch(session, ROTATING, None, 10)
        await session.commit()
    assert (batch.rotated, batch.unreadable) == (len(SECRET_COLUMNS), [])
    async with sessions() as session:
        stored = await session.get_one(Connection, shop)
    assert UNDER_NEW.decrypt(stored.webhook_secret_enc or "").get_secret_value() == current
    assert UNDER_NEW.decrypt(stored.previous_webhook_secret_enc or "").get_secret_value() == previous
