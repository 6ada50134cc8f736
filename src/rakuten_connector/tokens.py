"""Tokens this deployment accepts: signed with its secret, for its issuer and audience, within its lifetime."""

from __future__ import annotations

from datetime import timedelta

from rakuten_connector.kit.auth import Role, issue_token
from rakuten_connector.settings import Settings


def issue_token_for(
    settings: Settings, merchant_id: str, role: Role = Role.MERCHANT, ttl: timedelta = timedelta(hours=12)
) -> str:
    """A token this deployment accepts; ValueError for a validity it would refuse."""
    if ttl.total_seconds() > settings.auth_jwt_max_lifetime_seconds:
        raise ValueError(
            f"the API refuses tokens living longer than {settings.auth_jwt_max_lifetime_seconds} s "
            "(AUTH_JWT_MAX_LIFETIME_SECONDS)"
        )
    return issue_token(
        settings.auth_jwt_secret.get_secret_value(),
        merchant_id,
        role,
        ttl,
        issuer=settings.auth_jwt_issuer,
        audience=settings.auth_jwt_audience,
    )
