"""`keys rotate`: secrets written under an old key, rotated with SECRET_KEYS=new,old, then all read with the
new key alone; a second run re-encrypts nothing; a secret no key opens is reported, never printed."""

from __future__ import annotations

import uuid

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.key_rotation import SECRET_COLUMNS
from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit.crypto import SecretBox
from tests.cli.conftest import Cli, Rows
from tests.conftest import use_secret

pytestmark = pytest.mark.usefixtures("sessions")


def _key() -> str:
    return Fernet.generate_key().decode()


def _secret() -> str:
    return use_secret(f"secret-CANARY-{uuid.uuid4().hex}")


async def _stored(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Connection]:
    async with sessions() as session:
        return {c.id: c for c in await session.scalars(select(Connection))}


async def test_after_the_rotation_the_new_key_alone_reads_every_secret(
    cli: Cli, rows: Rows, sessions: async_sessionmaker[AsyncSession]
) -> None:
    old, new = SecretBox([(old_key := _key())]), SecretBox([(new_key := _key())])
    plain: dict[str, dict[str, str | None]] = {}
    for n in range(5):
        values = {column: _secret() for column in SECRET_COLUMNS}
        # One already under the new key (written since the new key was put first), one secret missing.
        boxes = {column: new if n == 1 and column == "cubyn_api_key_enc" else old for column in SECRET_COLUMNS}
        encrypted: dict[str, str | None] = {c: boxes[c].encrypt(v) for c, v in values.items()}
        if n == 2:
            encrypted["webhook_secret_enc"] = values["webhook_secret_enc"] = None  # type: ignore[assignment]
        connection_id = await rows.connection(**encrypted)
        plain[connection_id] = dict(values)
    gone = await rows.connection(state=ConnectionState.DISCONNECTED.value, **dict.fromkeys(SECRET_COLUMNS, None))
    before = await _stored(sessions)

    env = {"SECRET_KEYS": f"{new_key},{old_key}"}
    report = await cli.json("keys", "rotate", "--batch-size", "2", env=env)
    secrets = 5 * len(SECRET_COLUMNS) - 1  # one missing
    assert report == {"rows": 6, "rotated": secrets - 1, "current": 1, "unreadable": [], "changing": []}

    after = await _stored(sessions)
    for connection_id, values in plain.items():
        for column, value in values.items():
            ciphertext = getattr(after[connection_id], column)
            if value is None:
                assert ciphertext is None
            else:
                assert new.decrypt(ciphertext).get_secret_value() == value
        # Not a change of the connection.
        assert after[connection_id].updated_at == before[connection_id].updated_at
    assert [getattr(after[gone], column) for column in SECRET_COLUMNS] == [None] * len(SECRET_COLUMNS)

    # Again: nothing left to re-encrypt, and with the old key gone everything still reads.
    again = await cli.json("keys", "rotate", env={"SECRET_KEYS": new_key})
    assert (again["rotated"], again["current"]) == (0, secrets)


async def test_a_secret_no_key_opens_is_reported_and_the_others_rotated(
    cli: Cli, rows: Rows, sessions: async_sessionmaker[AsyncSession]
) -> None:
    old_key, new_key, lost_key = _key(), _key(), _key()
    token = _secret()
    under_old = {column: SecretBox([old_key]).encrypt(_secret()) for column in SECRET_COLUMNS}
    lost = await rows.connection(**under_old | {"rakuten_token_enc": SecretBox([lost_key]).encrypt(_secret())})
    fine = await rows.connection(**under_old | {"rakuten_token_enc": SecretBox([old_key]).encrypt(token)})
    env = {"SECRET_KEYS": f"{new_key},{old_key}"}

    result = await cli("keys", "rotate", env=env)
    assert result.exit_code == 1
    assert f"no key of SECRET_KEYS opens a secret of connection(s) {lost}" in result.stderr
    assert "secrets re-encrypted" in result.stdout
    assert "Traceback" not in result.output
    for secret in [*rows.secrets, token]:
        assert secret not in result.output
    stored = await _stored(sessions)
    assert SecretBox([new_key]).decrypt(stored[fine].rakuten_token_enc or "").get_secret_value() == token

    report = await cli.json("keys", "rotate", env=env, code=1)
    # The lost connection's other secrets were rotated all the same.
    assert (report["unreadable"], report["rotated"], report["current"]) == ([lost], 0, 2 * len(SECRET_COLUMNS) - 1)


async def test_with_one_key_there_is_nothing_to_rotate(cli: Cli, rows: Rows) -> None:
    await rows.connection()
    result = await cli("keys", "rotate")
    assert result.exit_code == 0, result.output
    lines = {" ".join(line.split()) for line in result.stdout.splitlines()}
    assert "secrets re-encrypted 0" in lines
    assert "already under the first key 3" in lines
