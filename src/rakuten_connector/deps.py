"""Every typed FastAPI dependency of the routers: settings, the request's database session, the caller
(its bearer token), the secret box, the credential checker, the jobs to send after the commit, and the
rate limits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.checks import CredentialChecker, LiveCredentialChecker
from rakuten_connector.kit.auth import BEARER, Principal, decode_token, token_of
from rakuten_connector.kit.crypto import SecretBox
from rakuten_connector.kit.errors import ApiError
from rakuten_connector.kit.queue import AfterCommit, JobQueue
from rakuten_connector.kit.rate_limits import RateLimiter
from rakuten_connector.settings import Settings

# Every dependency is a coroutine function: FastAPI runs a plain function in a thread-pool worker, a cost
# on every request for what is a read of the application's state.


async def app_settings(request: Request) -> Settings:
    """The settings the application was created with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; the route commits, an error rolls back."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with factory() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


async def current_principal(request: Request, settings: SettingsDep, credentials: BearerCredentials) -> Principal:
    """The caller its bearer token names (401 without a valid one); every route using it, directly or
    through another dependency, requires `bearerAuth` in the OpenAPI document."""
    token = token_of(credentials, request.headers.get("authorization"))
    return decode_token(settings.auth_jwt_secret.get_secret_value(), token, settings.token_policy)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def current_operator(principal: CurrentPrincipal) -> Principal:
    """The caller, who must be an operator: a merchant's token answers 403."""
    if not principal.is_operator:
        raise ApiError(403, "forbidden", "Only operators may do this.")
    return principal


CurrentOperator = Annotated[Principal, Depends(current_operator)]


async def get_secret_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


async def get_credential_checker(request: Request, settings: SettingsDep) -> CredentialChecker:
    return LiveCredentialChecker(settings, request.app.state.http)


SecretBoxDep = Annotated[SecretBox, Depends(get_secret_box)]
CheckerDep = Annotated[CredentialChecker, Depends(get_credential_checker)]


async def get_jobs(request: Request) -> AfterCommit:
    """The jobs this request asks for, sent only after its transaction committed (`await jobs.commit(session)`):
    a route has no other way to queue work."""
    queue: JobQueue = request.app.state.queue
    return AfterCommit(queue)


JobsDep = Annotated[AfterCommit, Depends(get_jobs)]


# -- rate limits on the routes that cost upstream calls or jobs --------------------------------------------


def rate_limit_caller(principal: Principal) -> str:
    """Whom a limit counts for: the merchant (all its users together), or the operator."""
    if principal.is_operator:
        return f"operator:{principal.subject}"
    return f"merchant:{principal.merchant_id}"


async def _count(request: Request, settings: Settings, principal: Principal, scope: str, rate: str) -> None:
    if not settings.rate_limits_enabled:
        return
    limiter: RateLimiter = request.app.state.rate_limiter
    await limiter.check(scope, rate, rate_limit_caller(principal))


def _limit(scope: str, rate: Callable[[Settings], str]) -> Callable[..., Awaitable[None]]:
    async def dependency(request: Request, principal: CurrentPrincipal, settings: SettingsDep) -> None:
        await _count(request, settings, principal, scope, rate(settings))

    dependency.__name__ = f"rate_limit_{scope}"
    return dependency


limit_connect = _limit("connect", lambda s: s.rate_limit_connect)
limit_import = _limit("import", lambda s: s.rate_limit_import)
limit_stock_sync = _limit("stock_sync", lambda s: s.rate_limit_stock_sync)
limit_retry = _limit("retry", lambda s: s.rate_limit_retry)


async def limit_connect_when(condition: bool, request: Request, principal: Principal, settings: Settings) -> None:
    """An update carrying new secrets is checked live upstream: it counts like a new connection. Called by
    the route once its body is validated, so a refused body counts nothing."""
    if condition:
        await _count(request, settings, principal, "connect", settings.rate_limit_connect)
