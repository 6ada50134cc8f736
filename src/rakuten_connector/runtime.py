"""What a worker's jobs share: settings, database, one HTTP pool, secrets, and clients per connection."""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from typing import Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from rakuten_connector.clients.cubyn import CubynClient
from rakuten_connector.clients.rakuten import RakutenClient
from rakuten_connector.clients.shared_http import shared_client
from rakuten_connector.connections.models import Connection
from rakuten_connector.db import create_engine, session_factory
from rakuten_connector.kit.crypto import SecretBox
from rakuten_connector.kit.leases import GuardedSession, check_request, new_owner
from rakuten_connector.kit.queue import JobQueue
from rakuten_connector.settings import Settings

# Enough pooled connections for every job the worker runs at once (a job may hold two: its work and its
# lease renewal), so connections are reused instead of opened and closed under load.
MAX_JOBS = 32
WORKER_DB_CONNECTIONS = MAX_JOBS + 8
# Outgoing HTTP is spread over a few pools: httpcore 1.0's pool does work quadratic in its number of
# connections at each request, which a single pool of many connections turns into most of the CPU.
HTTP_POOLS = 16
HTTP_CONNECTIONS = 256
HTTP_KEEPALIVE = 128
# Imports of batch jobs running at once in one worker: each holds a database connection only for its
# statements, not while Rakuten answers.
IMPORT_CONCURRENCY = 64


class RakutenCredentials(Protocol):
    """A connection, or a row read with its seller id and encrypted token."""

    @property
    def seller_id(self) -> str: ...

    @property
    def rakuten_token_enc(self) -> str | None: ...


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    pools: tuple[httpx.AsyncClient, ...]
    box: SecretBox
    queue: JobQueue
    owner: str
    import_gate: asyncio.Semaphore

    @classmethod
    def start(cls, settings: Settings) -> Runtime:
        # Jobs retry on a dropped connection, so the worker skips the per-checkout ping of the API's pool.
        engine = create_engine(settings.database_url, pool_size=WORKER_DB_CONNECTIONS, pre_ping=False)
        limits = httpx.Limits(
            max_connections=HTTP_CONNECTIONS // HTTP_POOLS, max_keepalive_connections=HTTP_KEEPALIVE // HTTP_POOLS
        )
        return cls(
            settings=settings,
            engine=engine,
            # Nothing is committed or sent upstream on behalf of a lease that was lost (kit.leases).
            sessions=session_factory(engine, GuardedSession),
            pools=tuple(
                shared_client(
                    limits=limits,
                    timeout=settings.upstream_timeout_seconds,
                    event_hooks={"request": [check_request]},
                )
                for _ in range(HTTP_POOLS)
            ),
            box=SecretBox(settings.fernet_keys),
            queue=JobQueue(settings.redis_url),
            owner=new_owner(),
            import_gate=asyncio.Semaphore(IMPORT_CONCURRENCY),
        )

    def http(self, key: str) -> httpx.AsyncClient:
        """The HTTP pool of a shop: always the same one, so its keep-alive connections are reused."""
        return self.pools[zlib.crc32(key.encode()) % len(self.pools)]

    async def close(self) -> None:
        for pool in self.pools:
            await pool.aclose()
        await self.queue.close()
        await self.engine.dispose()

    def rakuten(self, connection: RakutenCredentials) -> RakutenClient:
        if connection.rakuten_token_enc is None:
            raise RuntimeError(
                f"seller {connection.seller_id} has no Rakuten token: a disconnected connection has no secrets "
                "left, nothing may be called for it"
            )
        return RakutenClient(
            self.settings.rakuten_base_url,
            connection.seller_id,
            self.box.decrypt(connection.rakuten_token_enc),
            http=self.http(connection.seller_id),
            timeout=self.settings.upstream_timeout_seconds,
        )

    def cubyn(self, connection: Connection) -> CubynClient:
        if connection.cubyn_api_key_enc is None:
            raise RuntimeError(
                f"connection {connection.id} has no Cubyn key: a disconnected connection has no secrets left, "
                "nothing may be called for it"
            )
        return CubynClient(
            self.settings.cubyn_api_url,
            self.box.decrypt(connection.cubyn_api_key_enc),
            http=self.http(connection.id),
            timeout=self.settings.upstream_timeout_seconds,
        )
