"""What a worker's jobs share: settings, database, one HTTP pool, secrets, and clients per connection."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from rakuten_connector.clients.cubyn import CubynClient
from rakuten_connector.clients.rakuten import RakutenClient
from rakuten_connector.connections.models import Connection
from rakuten_connector.db import create_engine, session_factory
from rakuten_connector.kit.crypto import SecretBox
from rakuten_connector.kit.leases import new_owner
from rakuten_connector.kit.queue import JobQueue
from rakuten_connector.settings import Settings

# Enough pooled connections for every job the worker runs at once (a job may hold two: its work and its
# lease renewal), so connections are reused instead of opened and closed under load.
MAX_JOBS = 32
WORKER_DB_CONNECTIONS = MAX_JOBS + 8


class MissingSecret(Exception):
    """A disconnected connection has no secrets left: nothing may be called for it."""


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    box: SecretBox
    queue: JobQueue
    owner: str

    @classmethod
    def start(cls, settings: Settings) -> Runtime:
        # Jobs retry on a dropped connection, so the worker skips the per-checkout ping of the API's pool.
        engine = create_engine(settings.database_url, pool_size=WORKER_DB_CONNECTIONS, pre_ping=False)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            http=httpx.AsyncClient(
                follow_redirects=False, limits=limits, timeout=settings.upstream_timeout_seconds
            ),
            box=SecretBox(settings.fernet_keys),
            queue=JobQueue(settings.redis_url),
            owner=new_owner(),
        )

    async def close(self) -> None:
        await self.http.aclose()
        await self.queue.close()
        await self.engine.dispose()

    def rakuten(self, connection: Connection) -> RakutenClient:
        if connection.rakuten_token_enc is None:
            raise MissingSecret(connection.id)
        return RakutenClient(
            self.settings.rakuten_base_url,
            connection.seller_id,
            self.box.decrypt(connection.rakuten_token_enc),
            http=self.http,
            timeout=self.settings.upstream_timeout_seconds,
        )

    def cubyn(self, connection: Connection) -> CubynClient:
        if connection.cubyn_api_key_enc is None:
            raise MissingSecret(connection.id)
        return CubynClient(
            self.settings.cubyn_api_url,
            self.box.decrypt(connection.cubyn_api_key_enc),
            http=self.http,
            timeout=self.settings.upstream_timeout_seconds,
        )
